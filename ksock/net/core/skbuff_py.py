# Pure-Python twin of the kskb C module (firmware/cmodules/kskb/kskb.c): the same
# API, the same results and the same errors, for firmware that cannot load C.
from ksock.compat import MICROPYTHON, const, micropython

IMPL = "python"

_CHUNK = const(32768)  # bytes per viper pass: 16384 words * 0xffff stays < 2**30


def _range(buf, off, length):
    n = len(buf)
    if off < 0 or off > n:
        raise ValueError("csum: offset out of range")
    if length < 0:
        length = n - off
    elif off + length > n:
        raise ValueError("csum: length out of range")
    return length


def _fold(s):
    s = (s & 0xFFFF) + (s >> 16)
    return (s & 0xFFFF) + (s >> 16)  # second pass: 0x1ffff -> 0x10000 -> 1


if MICROPYTHON:
    @micropython.viper
    def _sum16(buf, off: int, n: int) -> int:
        p = ptr8(buf)  # noqa: F821 (viper builtin)
        s = 0
        i = off
        end = off + (n & ~1)
        while i < end:
            s += (p[i] << 8) | p[i + 1]
            i += 2
        if n & 1:
            s += p[end] << 8
        return s

    def csum_partial(buf, off=0, length=-1, sum=0):
        """Folded ones'-complement sum of buf[off:off+length] as big-endian words."""
        length = _range(buf, off, length)
        s = sum & 0xFFFF
        while length > _CHUNK:
            s = _fold(s + _sum16(buf, off, _CHUNK))
            off += _CHUNK
            length -= _CHUNK
        return _fold(s + _sum16(buf, off, length))
else:
    def csum_partial(buf, off=0, length=-1, sum=0):
        """Folded ones'-complement sum of buf[off:off+length] as big-endian words."""
        length = _range(buf, off, length)
        v = int.from_bytes(bytes(memoryview(buf)[off:off + length]), "big")
        if length & 1:
            v <<= 8
        # 2**16 == 1 (mod 0xffff): the word sum is the integer mod 0xffff; only
        # an all-zero range folds to 0, any other multiple of 0xffff to 0xffff.
        s = 0 if v == 0 else (v % 0xFFFF or 0xFFFF)
        return _fold(s + (sum & 0xFFFF))
