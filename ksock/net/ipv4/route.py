# IPv4 routing (net/ipv4/route.c + fib): connected subnets from interface
# addresses, static routes (`ip route add`), a default gateway, local delivery.
# Longest prefix wins; lookups answer (dev_name, next_hop, src) or -errno.
from ksock.net.ipv4 import devinet
from ksock.net.ipv4.devinet import addr_to_int, RTN_LOCAL

ENETUNREACH = 101

_routes = []  # [prefixlen, net_int, mask_int, gateway(bytes|None), dev_name]


def _mask(pl):
    return (0xFFFFFFFF << (32 - pl)) & 0xFFFFFFFF if pl else 0


def ip_route_add(dst, prefixlen, dev, gateway=None):
    """`ip route add DST/PL [via GW] dev DEV`."""
    if isinstance(dst, str):
        dst = devinet.inet_aton(dst)
    if isinstance(gateway, str):
        gateway = devinet.inet_aton(gateway)
    m = _mask(prefixlen)
    _routes.append([prefixlen, addr_to_int(dst) & m, m, gateway, dev])
    _routes.sort(key=lambda r: -r[0])
    return 0


def ip_route_del(dst, prefixlen, dev=None):
    if isinstance(dst, str):
        dst = devinet.inet_aton(dst)
    m = _mask(prefixlen)
    for r in _routes:
        if r[0] == prefixlen and r[1] == addr_to_int(dst) & m and (dev is None or r[4] == dev):
            _routes.remove(r)
            return 0
    return -3  # ESRCH


def _on_ifa(event, ifa):
    # Connected route per address, as fib_add_ifaddr does.
    if ifa.ifa_dev == "lo":
        return
    if event == "up":
        ip_route_add(ifa.network(), ifa.ifa_prefixlen, ifa.ifa_dev)
    else:
        ip_route_del(ifa.network(), ifa.ifa_prefixlen, ifa.ifa_dev)


devinet.register_inetaddr_notifier(_on_ifa)


def _src_for(dev, daddr):
    best = None
    for ifa in devinet.inet_ifaddrs(dev):
        if best is None or ifa.contains(daddr):
            best = ifa
            if ifa.contains(daddr):
                break
    return best.ifa_local if best else None


def ip_route_output(daddr, oif=None):
    """(dev_name, next_hop, saddr) for sending to `daddr`, or -ENETUNREACH."""
    if devinet.inet_addr_type(daddr) == RTN_LOCAL:
        return "lo", daddr, daddr if daddr[0] != 127 else devinet.INADDR_LOOPBACK
    if daddr == devinet.INADDR_BROADCAST:
        for ifa in devinet.inet_ifaddrs():
            if ifa.ifa_dev != "lo" and (oif is None or ifa.ifa_dev == oif):
                return ifa.ifa_dev, daddr, ifa.ifa_local
        if oif is not None:
            return oif, daddr, devinet.INADDR_ANY  # a socket bound to a device with no address yet (DHCP)
        return -ENETUNREACH
    d = addr_to_int(daddr)
    for pl, net, m, gw, dev in _routes:
        if d & m == net and (oif is None or dev == oif):
            src = _src_for(dev, daddr)
            if src is None:
                continue
            return dev, gw if gw is not None else daddr, src
    return -ENETUNREACH


def routes():
    return [(devinet.int_to_addr(r[1]), r[0], r[3], r[4]) for r in _routes]


def proc_net_route():
    """/proc/net/route as Linux prints it (addresses as little-endian hex)."""
    lines = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
    for pl, net, m, gw, dev in _routes:
        flags = 0x1 | (0x2 if gw else 0)  # RTF_UP | RTF_GATEWAY
        g = devinet.addr_proc(devinet.inet_aton(gw) if isinstance(gw, str) else gw) if gw else 0
        lines.append("%s\t%08X\t%08X\t%04X\t0\t0\t0\t%08X\t0\t0\t0" % (
            dev, devinet.addr_proc(devinet.int_to_addr(net)), g, flags,
            devinet.addr_proc(devinet.int_to_addr(m))))
    return "\n".join(lines)
