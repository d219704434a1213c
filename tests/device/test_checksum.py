# Internet checksum (lib/checksum.c): the C module and the Python twin against a
# plain reference, on the target. Runs on every target; C cases need kskb.
from ksock.net.core import skbuff, skbuff_py
from ksock.compat import kskb


def ref_sum(b):
    s = 0
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    if len(b) & 1:
        s += b[-1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class Lcg:
    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x % n

    def buf(self, n):
        return bytes(self.next(256) for _ in range(n))


def impls():
    out = [skbuff_py.csum_partial]
    if kskb is not None:
        out.append(kskb.csum_partial)
    return out


def test_csum_rfc1071_example():
    # RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2.
    data = bytes([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7])
    for f in impls():
        assert f(data) == 0xDDF2, (f, hex(f(data)))


def test_csum_fold_at_0x1ffff_keeps_end_around_carry():
    # PyTCP's bug: 0xffff + 0xffff + 0x0001 = 0x1ffff must fold to 0x0001... and
    # the second fold pass matters: 0x1ffff -> 0xffff+1 = 0x10000 -> 1.
    data = b"\xff\xff\xff\xff\x00\x01"
    for f in impls():
        assert f(data) == ref_sum(data) == 0x0001, hex(f(data))
    # all-ones words: ones'-complement sum stays 0xffff, never 0
    for f in impls():
        assert f(b"\xff\xff" * 3) == 0xFFFF


def test_csum_zero_and_empty():
    for f in impls():
        assert f(b"") == 0
        assert f(b"\x00" * 7) == 0
        assert f(b"", 0, 0, 0x1234) == 0x1234


def test_csum_partial_random_buffers_agree_with_reference():
    r = Lcg(1)
    for n in list(range(0, 40)) + [63, 64, 65, 1499, 1500, 1501]:
        b = r.buf(n)
        want = ref_sum(b)
        for f in impls():
            got = f(b)
            assert got == want, (f, n, hex(got), hex(want))


def test_csum_partial_odd_offsets_lengths_and_initial_sum():
    r = Lcg(7)
    b = bytearray(r.buf(300))
    mv = memoryview(b)
    for _ in range(200):
        off = r.next(300)
        ln = r.next(301 - off)
        init = r.next(0x10000)
        want = ref_sum(bytes(b[off:off + ln]) + b"") + init
        while want >> 16:
            want = (want & 0xFFFF) + (want >> 16)
        for f in impls():
            assert f(b, off, ln, init) == want, (f, off, ln, init)
            assert f(mv, off, ln, init) == want


def test_csum_partial_range_errors_match():
    b = b"abcd"
    for f in impls():
        for args in ((5,), (-1,), (2, 3)):
            try:
                f(b, *args)
            except ValueError:
                pass
            else:
                raise AssertionError("%r accepted %r" % (f, args))


def test_ip_fast_csum_verifies_a_real_header():
    # 45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7 (Wikipedia example)
    h = bytes.fromhex("450000730000400040" + "11b861c0a80001c0a800c7")
    assert skbuff.ip_fast_csum(h, 0, 5) == 0
    z = bytearray(h)
    z[10] = z[11] = 0
    assert skbuff.csum_fold(skbuff.csum_partial(z)) == 0xB861


def test_kskb_present_where_firmware_has_it():
    import sys
    if TARGET == "unix-nocmod":
        assert kskb is None and skbuff.IMPL == "python"
    elif TARGET in ("unix-natmod", "unix-jonnor"):
        assert kskb is not None and skbuff.IMPL == "natmod", skbuff.IMPL
    else:
        assert kskb is not None and skbuff.IMPL == "cmodule", (sys.platform, skbuff.IMPL)


def test_clock_ticks_advance():
    from ksock.kernel import time as ktime
    c = ktime.clock
    a = c.now_us()
    x = 0
    for i in range(20000):
        x += i
    b = c.now_us()
    assert c.diff(b, a) > 0, (a, b)
    assert 0 <= c.now_ms() < (1 << 30)
