# ICMP header (RFC 792, include/uapi/linux/icmp.h).
from ksock.compat import const

ICMP_HLEN = const(8)
ICMP_ECHOREPLY = const(0)
ICMP_DEST_UNREACH = const(3)
ICMP_ECHO = const(8)
ICMP_TIME_EXCEEDED = const(11)
ICMP_PARAMETERPROB = const(12)
# codes for ICMP_DEST_UNREACH
ICMP_NET_UNREACH = const(0)
ICMP_HOST_UNREACH = const(1)
ICMP_PROT_UNREACH = const(2)
ICMP_PORT_UNREACH = const(3)
ICMP_FRAG_NEEDED = const(4)
