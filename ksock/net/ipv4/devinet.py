# IPv4 interface addresses (net/ipv4/devinet.c) and the local-table address
# classification that bind and routing ask for (inet_addr_type, fib_frontend.c).
# Addresses are 4-byte `bytes` in network order everywhere in the stack.
from ksock.compat import const

RTN_UNSPEC = const(0)
RTN_UNICAST = const(1)
RTN_LOCAL = const(2)
RTN_BROADCAST = const(3)
RTN_MULTICAST = const(5)

INADDR_ANY = b"\x00\x00\x00\x00"
INADDR_BROADCAST = b"\xff\xff\xff\xff"
INADDR_LOOPBACK = b"\x7f\x00\x00\x01"


def addr_to_int(a):
    return (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]


def addr_proc(a):
    """An address as /proc/net/{tcp,udp} print it on little-endian Linux: the
    network-order __be32 shown as a host integer (127.0.0.1 -> 0100007F)."""
    return (a[3] << 24) | (a[2] << 16) | (a[1] << 8) | a[0]


def int_to_addr(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def inet_aton(s):
    p = s.split(".")
    if len(p) != 4:
        raise ValueError("bad IPv4 address %r" % s)
    return bytes(int(x) for x in p)


def inet_ntoa(a):
    return "%d.%d.%d.%d" % (a[0], a[1], a[2], a[3])


def _mask(prefixlen):
    return int_to_addr((0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF if prefixlen else 0)


def _and(a, m):
    return bytes((a[0] & m[0], a[1] & m[1], a[2] & m[2], a[3] & m[3]))


class in_ifaddr:
    __slots__ = ("ifa_local", "ifa_prefixlen", "ifa_mask", "ifa_broadcast", "ifa_dev")

    def __init__(self, dev, local, prefixlen):
        self.ifa_dev = dev  # device name
        self.ifa_local = local
        self.ifa_prefixlen = prefixlen
        self.ifa_mask = _mask(prefixlen)
        net = _and(local, self.ifa_mask)
        inv = bytes((~b) & 0xFF for b in self.ifa_mask)
        self.ifa_broadcast = bytes((net[i] | inv[i]) for i in range(4)) if prefixlen < 31 else INADDR_ANY

    def network(self):
        return _and(self.ifa_local, self.ifa_mask)

    def contains(self, addr):
        # in place, no bytes made: inet_addr_type asks it for every received packet
        a = self.ifa_local
        m = self.ifa_mask
        return ((addr[0] ^ a[0]) & m[0] | (addr[1] ^ a[1]) & m[1] | (addr[2] ^ a[2]) & m[2]
                | (addr[3] ^ a[3]) & m[3]) == 0

    def __repr__(self):
        return "inet %s/%d brd %s dev %s" % (inet_ntoa(self.ifa_local), self.ifa_prefixlen,
                                            inet_ntoa(self.ifa_broadcast), self.ifa_dev)


_ifaddrs = []
_listeners = []  # callables(event, ifa): "up"/"down" (routing, gratuitous ARP)


def inet_ifa_add(dev, addr, prefixlen):
    """`ip addr add ADDR/PREFIX dev DEV`; -EEXIST (as an int) if already there."""
    if isinstance(addr, str):
        addr = inet_aton(addr)
    for ifa in _ifaddrs:
        if ifa.ifa_dev == dev and ifa.ifa_local == addr:
            return -17  # EEXIST
    ifa = in_ifaddr(dev, addr, prefixlen)
    _ifaddrs.append(ifa)
    for cb in _listeners:
        cb("up", ifa)
    return 0


def inet_ifa_del(dev, addr):
    if isinstance(addr, str):
        addr = inet_aton(addr)
    for ifa in _ifaddrs:
        if ifa.ifa_dev == dev and ifa.ifa_local == addr:
            _ifaddrs.remove(ifa)
            for cb in _listeners:
                cb("down", ifa)
            return 0
    return -99  # EADDRNOTAVAIL


def inet_ifaddrs(dev=None):
    return [i for i in _ifaddrs if dev is None or i.ifa_dev == dev]


def register_inetaddr_notifier(cb):
    _listeners.append(cb)


def inet_addr_type(addr):
    """RTN_* of `addr` as the local routing table classifies it."""
    if addr == INADDR_BROADCAST:
        return RTN_BROADCAST
    if addr[0] & 0xF0 == 0xE0:
        return RTN_MULTICAST
    if addr == INADDR_ANY:
        return RTN_BROADCAST  # Linux's local table answers 0.0.0.0 as broadcast
    for ifa in _ifaddrs:
        if ifa.ifa_local == addr:
            return RTN_LOCAL
        if ifa.ifa_dev == "lo" and ifa.contains(addr):
            return RTN_LOCAL  # 127.0.0.0/8 is all local
        if ifa.ifa_prefixlen < 31 and addr == ifa.ifa_broadcast:
            return RTN_BROADCAST
    return RTN_UNICAST


def devinet_init():
    if not inet_ifaddrs("lo"):
        inet_ifa_add("lo", INADDR_LOOPBACK, 8)


devinet_init()
