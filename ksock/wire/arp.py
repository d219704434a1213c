# ARP for IPv4 over Ethernet (RFC 826, include/uapi/linux/if_arp.h).
from struct import unpack_from, pack_into
from ksock.compat import const

ARP_HLEN = const(28)
ARPHRD_ETHER = const(1)
ARPOP_REQUEST = const(1)
ARPOP_REPLY = const(2)


def parse(buf, off, length):
    """(op, sha, sip, tha, tip) or None if this is not Ethernet/IPv4 ARP."""
    if length < ARP_HLEN:
        return None
    htype, ptype, hlen, plen, op = unpack_from(">HHBBH", buf, off)
    if htype != ARPHRD_ETHER or ptype != 0x0800 or hlen != 6 or plen != 4:
        return None
    b = bytes(buf[off + 8:off + 28])
    return op, b[0:6], b[6:10], b[10:16], b[16:20]


def emit_into(buf, off, op, sha, sip, tha, tip):
    pack_into(">HHBBH", buf, off, ARPHRD_ETHER, 0x0800, 6, 4, op)
    buf[off + 8:off + 14] = sha
    buf[off + 14:off + 18] = sip
    buf[off + 18:off + 24] = tha
    buf[off + 24:off + 28] = tip
