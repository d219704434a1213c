# Software GSO and checksum help on raw frame buffers (net/core/gso.c,
# net/ipv4/tcp_offload.c tcp_gso_segment, net/core/dev.c skb_checksum_help),
# and the virtio-net header that carries their state on a packet socket
# (include/uapi/linux/virtio_net.h). Stateless: callers own the buffers; the
# packet driver, the W5500 model's wire and the impairment bridge share it.
from ksock.compat import const
from ksock.net.core import skbuff

VNET_HDR_LEN = const(10)  # struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VIRTIO_NET_HDR_F_NEEDS_CSUM = const(1)  # L4 checksum partial: sum of the pseudo-header only (CHECKSUM_PARTIAL)
VIRTIO_NET_HDR_F_DATA_VALID = const(2)  # checksum already verified (CHECKSUM_UNNECESSARY)
VIRTIO_NET_HDR_GSO_NONE = const(0)
VIRTIO_NET_HDR_GSO_TCPV4 = const(1)
VIRTIO_NET_HDR_GSO_ECN = const(0x80)  # the superframe carries CWR

_ETH = const(14)
_FIN_PSH = const(0x09)
_CWR = const(0x80)


def vnet_gso_size(buf, off):
    return buf[off + 4] | (buf[off + 5] << 8)


def vnet_csum_start(buf, off):
    return buf[off + 6] | (buf[off + 7] << 8)


def vnet_csum_offset(buf, off):
    return buf[off + 8] | (buf[off + 9] << 8)


def tcp4_hlen(buf, off, n):
    """Ethernet + IPv4 + TCP header bytes of the frame at buf[off:off+n], or 0
    when it is not a whole, unfragmented TCP/IPv4 frame (the only kind TSO makes)."""
    if n < _ETH + 40 or buf[off + 12] != 0x08 or buf[off + 13] != 0:
        return 0
    v = buf[off + _ETH]
    ihl = (v & 0x0F) << 2
    if v >> 4 != 4 or ihl < 20 or buf[off + _ETH + 9] != 6 or (buf[off + _ETH + 6] & 0x3F) | buf[off + _ETH + 7]:
        return 0  # not v4, not TCP, or a fragment (MF or offset set)
    tot = (buf[off + _ETH + 2] << 8) | buf[off + _ETH + 3]
    th = off + _ETH + ihl
    if tot > n - _ETH or tot < ihl + 20:
        return 0
    thl = (buf[th + 12] >> 4) << 2
    if thl < 20 or ihl + thl > tot:
        return 0
    return _ETH + ihl + thl


def tcp4_payload(buf, off, hlen):
    """TCP payload bytes of the frame whose headers are hlen long (by IP tot_len)."""
    return ((buf[off + _ETH + 2] << 8) | buf[off + _ETH + 3]) + _ETH - hlen


def tso_count(plen, mss):
    return (plen + mss - 1) // mss if plen else 1


def tso_fixup(buf, off, hlen, i, count, seglen, mss):
    """Turn the superframe headers copied to buf[off:off+hlen] into segment i of
    count (seglen payload bytes): IP tot_len, id + i and header checksum, TCP
    seq + i*mss, FIN/PSH only on the last, CWR only on the first (tcp_gso_segment).
    The TCP checksum is left to the caller (tcp4_csum_fill, or trusted)."""
    ip = off + _ETH
    ihl = (buf[ip] & 0x0F) << 2
    tot = hlen - _ETH + seglen
    buf[ip + 2] = tot >> 8
    buf[ip + 3] = tot & 0xFF
    ident = (((buf[ip + 4] << 8) | buf[ip + 5]) + i) & 0xFFFF
    buf[ip + 4] = ident >> 8
    buf[ip + 5] = ident & 0xFF
    buf[ip + 10] = buf[ip + 11] = 0
    c = skbuff.ip_fast_csum(buf, ip, ihl >> 2)
    buf[ip + 10] = c >> 8
    buf[ip + 11] = c & 0xFF
    th = ip + ihl
    seq = (((buf[th + 4] << 24) | (buf[th + 5] << 16) | (buf[th + 6] << 8) | buf[th + 7]) + i * mss) & 0xFFFFFFFF
    buf[th + 4] = seq >> 24
    buf[th + 5] = (seq >> 16) & 0xFF
    buf[th + 6] = (seq >> 8) & 0xFF
    buf[th + 7] = seq & 0xFF
    if i < count - 1:
        buf[th + 13] &= ~_FIN_PSH
    if i:
        buf[th + 13] &= ~_CWR
    return hlen + seglen


def tso_segment_into(src, off, hlen, plen, mss, i, dst, doff, fill=True):
    """Segment i of the superframe at src[off:] into dst[doff:], checksums filled
    (a cable's frame) unless fill is False; returns its length. Slices: for tools
    and models, the driver copies into skbs with skb_store_bits instead."""
    count = tso_count(plen, mss)
    p = i * mss
    seglen = plen - p if plen - p < mss else mss
    dst[doff:doff + hlen] = memoryview(src)[off:off + hlen]
    dst[doff + hlen:doff + hlen + seglen] = memoryview(src)[off + hlen + p:off + hlen + p + seglen]
    n = tso_fixup(dst, doff, hlen, i, count, seglen, mss)
    if fill:
        tcp4_csum_fill(dst, doff)
    return n


def tcp4_csum_fill(buf, off):
    """Write the full TCP checksum of the frame at buf[off:] (IP tot_len bounds it)."""
    ip = off + _ETH
    ihl = (buf[ip] & 0x0F) << 2
    n = ((buf[ip + 2] << 8) | buf[ip + 3]) - ihl
    th = ip + ihl
    buf[th + 16] = buf[th + 17] = 0
    c = skbuff.csum_tcpudp_magic(buf, ip, n, 6, skbuff.csum_partial(buf, th, n))
    buf[th + 16] = c >> 8
    buf[th + 17] = c & 0xFF


def csum_help(buf, off, n, start, field):
    """skb_checksum_help: finish a partial checksum (CHECKSUM_PARTIAL) in place.
    The field at start+field holds the pseudo-header sum; the sum from start to
    the end of the n-byte frame at buf[off:] folds into the final value.
    Returns False when start/field do not fit the frame."""
    if start + field + 2 > n:
        return False
    c = skbuff.csum_fold(skbuff.csum_partial(buf, off + start, n - start)) or 0xFFFF  # CSUM_MANGLED_0
    buf[off + start + field] = c >> 8
    buf[off + start + field + 1] = c & 0xFF
    return True
