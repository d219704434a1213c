# IPv4 routing (net/ipv4/route.c + fib): connected subnets from interface
# addresses, static routes (`ip route add`), a default gateway, local delivery.
# Longest prefix wins; lookups answer (dev_name, next_hop, src) or -errno.
from ksock.net.ipv4 import devinet
from ksock.net.ipv4.devinet import addr_to_int, RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST

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


# ---- input: martian sources and destinations (ip_route_input_slow) --------------------
# The checks Linux makes before it looks a received packet's route up, with
# rp_filter 0 and route_localnet 0 (its defaults): a source that is multicast,
# limited broadcast, 0.x.x.x (but 0.0.0.0 may broadcast: DHCP), loopback off
# lo, or one of our own addresses; a destination 0.x.x.x or loopback off lo.
# Counted as /proc/net/stat/rt_cache counts them; net.ipv4.conf.all.log_martians
# prints each (rate-limited as net_ratelimit: 10 per 5 s).
class _rt_cache_stat:
    in_martian_dst = 0
    in_martian_src = 0


rt_cache_stat = _rt_cache_stat()
_RT_CACHE_COLS = ("entries", "in_hit", "in_slow_tot", "in_slow_mc", "in_no_route", "in_brd",
                  "in_martian_dst", "in_martian_src", "out_hit", "out_slow_tot", "out_slow_mc",
                  "gc_total", "gc_ignored", "gc_goal_miss", "gc_dst_overflow", "in_hlist_search",
                  "out_hlist_search")
_ratelimit = [0, 10]  # [window start ms, messages left]


def _all(buf, o, v):
    return buf[o] == v and buf[o + 1] == v and buf[o + 2] == v and buf[o + 3] == v


def _is_local(buf, o):
    """inet_lookup_ifaddr_rcu: is this source one of our own addresses?"""
    for ifa in devinet._ifaddrs:  # the list itself: inet_ifaddrs() copies it, per packet here
        a = ifa.ifa_local
        if buf[o] == a[0] and buf[o + 1] == a[1] and buf[o + 2] == a[2] and buf[o + 3] == a[3]:
            return True
    return False


def _log(what, buf, off, dev):
    from ksock.net.core import sysctl
    if not sysctl.sysctl("net.ipv4.conf.all.log_martians"):
        return
    from ksock.kernel import time as ktime
    now = ktime.clock.now_ms()
    if ktime.clock.diff(now, _ratelimit[0]) >= 5000:
        _ratelimit[0], _ratelimit[1] = now, 10
    if _ratelimit[1] <= 0:
        return
    _ratelimit[1] -= 1
    s, d = devinet.inet_ntoa(buf[off + 12:off + 16]), devinet.inet_ntoa(buf[off + 16:off + 20])
    if what == 1:
        print("martian source %s from %s, on dev %s" % (d, s, dev.name))
    else:
        print("martian destination %s from %s, dev %s" % (d, s, dev.name))


def _martian(what, buf, off, dev):
    if what == 1:
        rt_cache_stat.in_martian_src += 1
    else:
        rt_cache_stat.in_martian_dst += 1
    _log(what, buf, off, dev)
    return what


def ip_route_input_martian(buf, off, t, dev):
    """0, or 1 (martian source) / 2 (martian destination), counted, for the
    IPv4 header at `off` whose destination has type `t`, received on a device
    other than lo."""
    s0 = buf[off + 12]
    d0 = buf[off + 16]
    s_lbcast = _all(buf, off + 12, 255)
    if t == RTN_MULTICAST:  # ip_mc_validate_source
        if s0 == 127 or s_lbcast or s0 & 0xF0 == 0xE0:
            return _martian(1, buf, off, dev)
        if s0 == 0:  # zeronet only to 224.0.0.x or for IGMP
            local_mc = d0 == 224 and buf[off + 17] == 0 and buf[off + 18] == 0
            return 0 if local_mc or buf[off + 9] == 2 else _martian(1, buf, off, dev)
        return _martian(1, buf, off, dev) if _is_local(buf, off + 12) else 0
    if s0 & 0xF0 == 0xE0 or s_lbcast:
        return _martian(1, buf, off, dev)
    if _all(buf, off + 16, 255) or (_all(buf, off + 12, 0) and _all(buf, off + 16, 0)):
        # brd_input: a zeronet source is not validated (a DHCP client has no address yet)
        return _martian(1, buf, off, dev) if s0 and _is_local(buf, off + 12) else 0
    if s0 == 0:
        return _martian(1, buf, off, dev)
    if d0 == 0 or d0 == 127:
        return _martian(2, buf, off, dev)
    if s0 == 127:
        return _martian(1, buf, off, dev)
    if t == RTN_LOCAL or t == RTN_BROADCAST:  # fib_validate_source
        return _martian(1, buf, off, dev) if _is_local(buf, off + 12) else 0
    return 0


def proc_net_stat_rt_cache():
    """/proc/net/stat/rt_cache: one line per CPU (ksock has one), hex columns."""
    vals = [getattr(rt_cache_stat, c, 0) for c in _RT_CACHE_COLS]
    return " ".join(_RT_CACHE_COLS) + "\n" + " ".join("%08x" % v for v in vals)
