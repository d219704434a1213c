# Pure-Python twin of the kskb C module (firmware/cmodules/kskb/kskb.c): the same
# API, the same results and the same errors, for firmware that cannot load C.
# Field and function names follow include/linux/skbuff.h; docs/skbuff.md.
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


if MICROPYTHON:
    @micropython.viper
    def _copy(dst, doff: int, src, soff: int, n: int):
        # memmove: backwards when the ranges may overlap with dst above src.
        d = ptr8(dst)  # noqa: F821
        s = ptr8(src)  # noqa: F821
        if doff > soff:
            while n > 0:
                n -= 1
                d[doff + n] = s[soff + n]
        else:
            i = 0
            while i < n:
                d[doff + i] = s[soff + i]
                i += 1

    @micropython.viper
    def _zero(b, n: int):
        p = ptr8(b)  # noqa: F821
        i = 0
        while i < n:
            p[i] = 0
            i += 1
else:
    def _copy(dst, doff, src, soff, n):
        dst[doff:doff + n] = memoryview(src)[soff:soff + n]

    def _zero(b, n):
        b[0:n] = bytes(n)


# ---- checksum helpers (include/net/checksum.h) ------------------------------------

def _sumarg(v):
    # A sum handed back in: any non-negative int, folded to 16 bits.
    if v < 0:
        raise ValueError("csum: negative sum")
    while v >> 16:
        v = (v & 0xFFFF) + (v >> 16)
    return v


def csum_fold(s):
    """Complemented 16-bit checksum field value from a partial sum."""
    return ~_sumarg(s) & 0xFFFF


def csum_add(a, b):
    return _fold(_sumarg(a) + _sumarg(b))


def csum_block_add(csum, csum2, offset):
    """Add a block's sum; at an odd offset its bytes are swapped (ror32 in Linux)."""
    c2 = _sumarg(csum2)
    if offset & 1:
        c2 = ((c2 & 0xFF) << 8) | (c2 >> 8)
    return _fold(_sumarg(csum) + c2)


def ip_fast_csum(buf, off, ihl):
    """IPv4 header checksum over ihl 32-bit words; 0 when the header verifies."""
    if ihl < 0:
        raise ValueError("ip_fast_csum: bad ihl")
    return ~csum_partial(buf, off, ihl * 4) & 0xFFFF


def csum_tcpudp_magic(buf, iph_off, length, proto, sum):
    """Complemented TCP/UDP checksum: pseudo-header saddr/daddr read in place at iph_off+12."""
    s = csum_partial(buf, iph_off + 12, 8, sum)
    return ~_fold(s + _sumarg(length) + _sumarg(proto)) & 0xFFFF


# ---- sk_buff and its pool ------------------------------------------------------------

_CB_SIZE = const(16)


class sk_buff:
    __slots__ = ("pool", "buf", "cb", "data", "len", "tail", "head", "end", "protocol",
                 "mac_header", "network_header", "transport_header", "ip_summed", "owner", "dev",
                 "next", "prev", "list", "_freed")

    def __init__(self, pool, size):
        self.pool = pool
        self.buf = bytearray(size)
        self.cb = bytearray(_CB_SIZE)
        self.data = self.len = self.tail = self.head = 0
        self.end = size
        self.protocol = self.mac_header = self.network_header = self.transport_header = 0
        self.ip_summed = 0
        self.owner = self.dev = self.next = self.prev = self.list = None
        self._freed = True


def _bad(skb):
    if type(skb) is not sk_buff:
        raise TypeError("skb: not an skb")
    raise ValueError("skb: use after free")


class Pool:
    """Fixed pool of skbs, data areas preallocated; free skbs on a LIFO stack."""

    def __init__(self, count, size, headroom):
        if count < 1 or count > 65535 or size < 0 or size > 65535 or headroom < 0 or headroom > size:
            raise ValueError("skb: bad pool geometry")
        self.count = self.avail = count
        self.size = size
        self.headroom = headroom
        self.alloc_fail = 0
        self._skbs = [sk_buff(self, size) for _ in range(count)]
        self._skbs.reverse()  # the first alloc() hands out skb 0, as in C

    def alloc(self):
        a = self.avail
        if a == 0:
            self.alloc_fail += 1
            return None
        a -= 1
        self.avail = a
        skb = self._skbs[a]
        skb._freed = False
        skb.data = skb.tail = self.headroom
        skb.len = 0
        skb.protocol = skb.mac_header = skb.network_header = skb.transport_header = 0
        skb.ip_summed = 0  # CHECKSUM_NONE: verify unless a driver says otherwise
        _zero(skb.cb, _CB_SIZE)  # __alloc_skb clears cb too
        return skb

    def free(self, skb):
        if type(skb) is not sk_buff:
            raise TypeError("skb: not an skb")
        if skb._freed:
            raise ValueError("skb: double free")
        if skb.pool is not self:
            raise ValueError("skb: wrong pool")
        if skb.list is not None:
            raise ValueError("skb: free while on a queue")
        skb._freed = True
        skb.owner = skb.dev = None  # drop references for the GC
        skb.ip_summed = 0
        self._skbs[self.avail] = skb
        self.avail += 1


def kfree_skb(skb):
    """Free skb to its own pool; kfree_skb(None) is a no-op as in Linux."""
    if skb is None:
        return
    if type(skb) is not sk_buff:
        raise TypeError("skb: not an skb")
    skb.pool.free(skb)


# ---- data pointer helpers: Linux panics, we raise ValueError with its name ------------
# skb_pull beyond len returns NULL in Linux; here it raises (a silent no-op would
# hide a parser bug).

def skb_reserve(skb, n):
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if skb.tail + n > skb.end:
        raise ValueError("skb_over_panic: reserve")
    if skb.data + n < 0:
        raise ValueError("skb_under_panic: reserve")
    skb.data += n
    skb.tail += n


def skb_put(skb, n):
    """Add n bytes at the tail; returns their offset in buf."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    off = skb.tail
    if n < 0 or off + n > skb.end:
        raise ValueError("skb_over_panic: put")
    skb.tail = off + n
    skb.len += n
    return off


def skb_push(skb, n):
    """Add n bytes in front; returns the new data offset."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    d = skb.data
    if n < 0 or n > d:
        raise ValueError("skb_under_panic: push")
    d -= n
    skb.data = d
    skb.len += n
    return d


def skb_pull(skb, n):
    """Remove n bytes from the front; returns the new data offset."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if n < 0 or n > skb.len:
        raise ValueError("skb_pull: beyond len")
    d = skb.data + n
    skb.data = d
    skb.len -= n
    return d


def skb_trim(skb, newlen):
    """Shorten to newlen; a longer newlen is a no-op, as in Linux."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if newlen < 0:
        raise ValueError("skb_trim: negative length")
    if newlen < skb.len:
        skb.len = newlen
        skb.tail = skb.data + newlen


def skb_headroom(skb):
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    return skb.data


def skb_tailroom(skb):
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    return skb.end - skb.tail


# ---- copies in and out, straight between the caller's buffer and buf --------------

def skb_put_data(skb, src):
    """skb_put(len(src)) and copy src there; returns the offset."""
    off = skb_put(skb, len(src))
    _copy(skb.buf, off, src, 0, len(src))
    return off


def skb_copy_bits(skb, offset, dst, dst_off, n):
    """Copy n payload bytes at data+offset into dst[dst_off:]; returns n."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if offset < 0 or n < 0 or offset + n > skb.len:
        raise ValueError("skb_copy_bits: out of range")
    if dst_off < 0 or dst_off + n > len(dst):
        raise ValueError("skb_copy_bits: dst out of range")
    if type(dst) is bytearray:
        _copy(dst, dst_off, skb.buf, skb.data + offset, n)
    else:  # memoryview: slice assignment refuses read-only views (TypeError, as C)
        s = skb.data + offset
        dst[dst_off:dst_off + n] = memoryview(skb.buf)[s:s + n]
    return n


skb_copy_datagram = skb_copy_bits  # recv (MSG_PEEK, partial reads) clamps n itself


def skb_store_bits(skb, offset, src, src_off, n):
    """Copy n bytes of src[src_off:] into the payload at data+offset; returns n."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if offset < 0 or n < 0 or offset + n > skb.len:
        raise ValueError("skb_store_bits: out of range")
    if src_off < 0 or src_off + n > len(src):
        raise ValueError("skb_store_bits: src out of range")
    _copy(skb.buf, skb.data + offset, src, src_off, n)
    return n


def skb_checksum(skb, offset, length, sum):
    """csum_partial over length payload bytes at data+offset."""
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if offset < 0 or length < 0 or offset + length > skb.len:
        raise ValueError("skb_checksum: out of range")
    return csum_partial(skb.buf, skb.data + offset, length, sum)


# ---- sk_buff_head: a doubly linked list through the skbs' own next/prev ---------------

class sk_buff_head:
    def __init__(self):
        self.next = self.prev = None  # first and last skb
        self.qlen = 0


Queue = sk_buff_head


def _q(q):
    if type(q) is not sk_buff_head:
        raise TypeError("skb: not a queue")


def _unqueued(skb):
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if skb.list is not None:
        raise ValueError("skb: already on a queue")


def skb_queue_tail(q, skb):
    _q(q)
    _unqueued(skb)
    skb.list = q
    skb.next = None
    p = skb.prev = q.prev
    if p is None:
        q.next = skb
    else:
        p.next = skb
    q.prev = skb
    q.qlen += 1


def skb_queue_head(q, skb):
    _q(q)
    _unqueued(skb)
    skb.list = q
    skb.prev = None
    n = skb.next = q.next
    if n is None:
        q.prev = skb
    else:
        n.prev = skb
    q.next = skb
    q.qlen += 1


def _unlink(skb, q):
    p, n = skb.prev, skb.next
    if p is None:
        q.next = n
    else:
        p.next = n
    if n is None:
        q.prev = p
    else:
        n.prev = p
    skb.next = skb.prev = skb.list = None
    q.qlen -= 1


def skb_unlink(skb, q):
    _q(q)
    if type(skb) is not sk_buff or skb._freed:
        _bad(skb)
    if skb.list is not q:
        raise ValueError("skb_unlink: not on this queue")
    _unlink(skb, q)


def skb_dequeue(q):
    _q(q)
    skb = q.next
    if skb is not None:
        _unlink(skb, q)
    return skb


def skb_dequeue_tail(q):
    _q(q)
    skb = q.prev
    if skb is not None:
        _unlink(skb, q)
    return skb


def skb_peek(q):
    _q(q)
    return q.next


def skb_peek_tail(q):
    _q(q)
    return q.prev


def skb_queue_len(q):
    _q(q)
    return q.qlen


def skb_queue_empty(q):
    _q(q)
    return q.qlen == 0


def skb_queue_purge(q):
    """Dequeue and free every skb to its own pool."""
    _q(q)
    while q.next is not None:
        skb = q.next
        _unlink(skb, q)
        skb.pool.free(skb)


def skb_queue_splice_tail_init(src, dst):
    """Move all of src to the tail of dst; src is left empty."""
    _q(src)
    _q(dst)
    if src is dst:
        raise ValueError("skb_queue_splice: same queue")
    first = src.next
    if first is None:
        return
    skb = first
    while skb is not None:
        skb.list = dst
        skb = skb.next
    first.prev = dst.prev
    if dst.prev is None:
        dst.next = first
    else:
        dst.prev.next = first
    dst.prev = src.prev
    dst.qlen += src.qlen
    src.next = src.prev = None
    src.qlen = 0
