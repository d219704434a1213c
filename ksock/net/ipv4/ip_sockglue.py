# net/ipv4/ip_sockglue.c (+ include/net/inet_sock.h): struct inet_sock, the
# IPv4 part of every AF_INET sock, and the IPPROTO_IP options that set it.
import struct
from ksock.compat import const
from ksock.uapi.errno import EINVAL, ENOPROTOOPT, EOPNOTSUPP
from ksock.uapi.socket import AF_INET, SOCK_STREAM
from ksock.uapi.in_ import (SOL_IP, IP_TOS, IP_TTL, IP_HDRINCL, IP_RECVERR, IP_FREEBIND,
                            IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT)
from ksock.net.core.sock import sock
from ksock.net.core import sysctl
from ksock.net.ipv4.devinet import INADDR_ANY

INET_ECN_MASK = const(3)
_INT_OPTS = (IP_TOS, IP_TTL, IP_HDRINCL, IP_RECVERR, IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT)


class inet_sock(sock):
    """struct inet_sock: addresses are 4-byte bytes (network order), ports ints."""
    sk_family = AF_INET
    inet_num = 0  # local port, host order (0: unbound)
    inet_sport = 0
    inet_rcv_saddr = INADDR_ANY  # the address lookups match
    inet_saddr = INADDR_ANY  # the address we send from
    inet_daddr = INADDR_ANY
    inet_dport = 0
    uc_ttl = -1
    tos = 0
    freebind = 0
    transparent = 0
    bind_address_no_port = 0
    hdrincl = 0
    recverr = 0


def ip_setsockopt(sk, level, optname, optval, optlen):
    if level != SOL_IP:
        return -ENOPROTOOPT
    val = 0
    if optname in _INT_OPTS:
        if optlen >= 4:
            val = struct.unpack_from("<i", optval, 0)[0]
        elif optlen >= 1:
            val = optval[0]
    if optname == IP_FREEBIND:
        if optlen < 1:
            return -EINVAL
        sk.freebind = 1 if val else 0
    elif optname == IP_TRANSPARENT:
        if optlen < 1:
            return -EINVAL
        sk.transparent = 1 if val else 0
    elif optname == IP_BIND_ADDRESS_NO_PORT:
        sk.bind_address_no_port = 1 if val else 0
    elif optname == IP_RECVERR:
        sk.recverr = 1 if val else 0
    elif optname == IP_TTL:
        if optlen < 1:
            return -EINVAL
        if val != -1 and (val < 1 or val > 255):
            return -EINVAL
        sk.uc_ttl = val
    elif optname == IP_TOS:
        val &= 0xFF
        if sk.sk_type == SOCK_STREAM:  # TCP keeps its own ECN bits
            val = (val & ~INET_ECN_MASK) | (sk.tos & INET_ECN_MASK)
        sk.tos = val
    elif optname == IP_HDRINCL:
        if sk.sk_type != 3:  # SOCK_RAW only
            return -ENOPROTOOPT
        sk.hdrincl = 1 if val else 0
    else:
        return -ENOPROTOOPT
    return 0


def ip_getsockopt(sk, level, optname, optlen):
    if level != SOL_IP:
        return -EOPNOTSUPP
    if optlen < 0:
        return -EINVAL
    if optname == IP_TTL:
        val = sk.uc_ttl
        if val < 0:
            val = sysctl.sysctl("net.ipv4.ip_default_ttl")
    elif optname == IP_TOS:
        val = sk.tos
    elif optname == IP_FREEBIND:
        val = sk.freebind
    elif optname == IP_TRANSPARENT:
        val = sk.transparent
    elif optname == IP_BIND_ADDRESS_NO_PORT:
        val = sk.bind_address_no_port
    elif optname == IP_RECVERR:
        val = sk.recverr
    elif optname == IP_HDRINCL:
        val = sk.hdrincl
    else:
        return -ENOPROTOOPT
    if 0 < optlen < 4 and 0 <= val <= 255:
        return bytes((val,))  # a one-byte answer when the buffer is short
    return struct.pack("<i", val)[:optlen]
