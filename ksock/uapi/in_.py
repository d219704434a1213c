# include/uapi/linux/in.h and tcp.h: protocol numbers, IPPROTO_IP/TCP options.
from ksock.compat import const

IPPROTO_IP = const(0)
IPPROTO_ICMP = const(1)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)
IPPROTO_RAW = const(255)
IPPROTO_MPTCP = const(262)  # above 255: only a socket() argument, never on the wire
IPPROTO_MAX = const(263)
SOL_IP = const(0)
SOL_TCP = const(6)
SOL_UDP = const(17)

IP_TOS = const(1)
IP_TTL = const(2)
IP_HDRINCL = const(3)
IP_RECVERR = const(11)
IP_FREEBIND = const(15)
IP_TRANSPARENT = const(19)
IP_BIND_ADDRESS_NO_PORT = const(24)

TCP_NODELAY = const(1)
TCP_MAXSEG = const(2)
TCP_CORK = const(3)
TCP_KEEPIDLE = const(4)
TCP_KEEPINTVL = const(5)
TCP_KEEPCNT = const(6)
TCP_SYNCNT = const(7)
TCP_INFO = const(11)
TCP_QUICKACK = const(12)
TCP_INFO_SIZE = const(32)  # the prefix we fill: state..tcpi_sacked
