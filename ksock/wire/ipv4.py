# IPv4 header (RFC 791, include/uapi/linux/ip.h). Validation order follows
# ip_rcv_core(): length, version/IHL, checksum, total length.
from struct import unpack_from, pack_into
from ksock.compat import const

IP_HLEN = const(20)
IP_DF = const(0x4000)
IP_MF = const(0x2000)
IP_OFFSET = const(0x1FFF)
IPPROTO_ICMP = const(1)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)

# verdicts of check(), each mapping to the counter ip_rcv_core() bumps
OK = const(0)
E_HDR = const(1)  # short, version, IHL, tot_len < IHL: InHdrErrors
E_CSUM = const(2)  # bad header checksum: InCsumErrors + InHdrErrors
E_TRUNCATED = const(3)  # tot_len beyond the frame: InTruncatedPkts


def check(buf, off, length, fast_csum):
    """Validate the header at buf[off:off+length]; returns (verdict, ihl_bytes, tot_len)."""
    if length < IP_HLEN:
        return E_HDR, 0, 0
    vihl = buf[off]
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < IP_HLEN or length < ihl:
        return E_HDR, ihl, 0
    if fast_csum(buf, off, ihl >> 2) != 0:
        return E_CSUM, ihl, 0
    tot = (buf[off + 2] << 8) | buf[off + 3]
    if length < tot:
        return E_TRUNCATED, ihl, tot
    if tot < ihl:
        return E_HDR, ihl, tot
    return OK, ihl, tot


def fields(buf, off):
    """(tos, tot_len, id, frag_off, ttl, proto)"""
    tos, tot, ident, frag, ttl, proto = unpack_from(">xBHHHBB", buf, off)
    return tos, tot, ident, frag, ttl, proto


def saddr(buf, off):
    return bytes(buf[off + 12:off + 16])


def daddr(buf, off):
    return bytes(buf[off + 16:off + 20])


def emit_into(buf, off, tot_len, ident, frag_off, ttl, proto, src, dst, tos=0):
    """A 20-byte header with checksum 0 (the caller computes it in place)."""
    pack_into(">BBHHHBBH", buf, off, 0x45, tos, tot_len, ident, frag_off, ttl, proto, 0)
    buf[off + 12:off + 16] = src
    buf[off + 16:off + 20] = dst
