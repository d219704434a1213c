# Ethernet II header (include/uapi/linux/if_ether.h).
from struct import pack_into
from ksock.compat import const

ETH_HLEN = const(14)
ETH_ALEN = const(6)
ETH_ZLEN = const(60)  # minimum frame without FCS: short frames are padded
ETH_P_IP = const(0x0800)
ETH_P_ARP = const(0x0806)
ETH_P_ALL = const(0x0003)
BROADCAST = b"\xff\xff\xff\xff\xff\xff"


def eth_type(buf, off):
    return (buf[off + 12] << 8) | buf[off + 13]


def emit_into(buf, off, dst, src, proto):
    buf[off:off + 6] = dst
    buf[off + 6:off + 12] = src
    pack_into(">H", buf, off + 12, proto)


def dst_is(buf, off, mac):
    """Destination MAC at buf[off] equals `mac`, compared in place (no slice per frame)."""
    return (buf[off] == mac[0] and buf[off + 1] == mac[1] and buf[off + 2] == mac[2]
            and buf[off + 3] == mac[3] and buf[off + 4] == mac[4] and buf[off + 5] == mac[5])


def is_multicast(buf, off):
    return buf[off] & 1


def mac_str(m):
    return ":".join("%02x" % b for b in m)


def mac_aton(s):
    return bytes(int(x, 16) for x in s.split(":"))
