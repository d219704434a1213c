# Bring the stack up and configure it, as `ip link/addr/route/neigh` would:
#   from ksock import stack
#   stack.init(); dev = stack.add_packet_dev("veth0")
#   stack.ip_addr_add("veth0", "10.0.0.2/24"); stack.ip_route_add("0.0.0.0/0", "10.0.0.1")
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import devinet, route, arp, ip_input, icmp, proc
from ksock.kernel import softirq

_up = [False]


def init(skbs=None):
    """Idempotent: skb pool, lo, ARP, IPv4, ICMP (and UDP/TCP once they register)."""
    if _up[0]:
        return
    netdev.skb_pool_init(skbs)
    from ksock.drivers.loopback import LoopbackDev
    lo = LoopbackDev()
    netdev.register_netdev(lo)
    netdev.dev_open(lo)
    arp.arp_init()
    ip_input.ip_init()
    icmp.icmp_init()
    for name in ("ksock.net.ipv4.udp", "ksock.net.ipv4.tcp_ipv4"):
        try:
            mod = __import__(name, None, None, ("x",))
        except ImportError:
            continue
        f = getattr(mod, "proto_init", None)
        if f:
            f()
    _up[0] = True


def add_dev(dev):
    netdev.register_netdev(dev)
    err = netdev.dev_open(dev)
    if err:
        raise OSError(-err)
    return dev


def add_packet_dev(ifname, name=None):
    from ksock.drivers.packet import PacketDev
    return add_dev(PacketDev(ifname, name))


def _split(cidr):
    a, _, p = cidr.partition("/")
    return devinet.inet_aton(a), int(p or 32)


def ip_addr_add(dev, cidr):
    a, p = _split(cidr)
    err = devinet.inet_ifa_add(dev, a, p)
    if err:
        raise OSError(-err)


def ip_route_add(cidr, via=None, dev=None):
    a, p = _split(cidr)
    if dev is None:
        rt = route.ip_route_output(devinet.inet_aton(via))
        if isinstance(rt, int):
            raise OSError(-rt)
        dev = rt[0]
    route.ip_route_add(a, p, dev, via)


def ip_neigh_add(ip, lladdr, dev):
    from ksock.wire.eth import mac_aton
    arp.neigh_add(devinet.inet_aton(ip), mac_aton(lladdr), netdev.dev_get_by_name(dev))


def dns_servers(*servers):
    """Set the DNS servers (dotted strings) the resolver asks, before any DHCP gave;
    with no argument, the ones in use (configured, else from DHCP leases)."""
    from ksock import resolv
    if servers:
        resolv.set_servers(servers)
    return [devinet.inet_ntoa(s) for s in resolv.servers()]


def dhcp(dev_name, hostname=None, timeout_ms=-1, **kw):
    """Run DHCP on a device (ksock/net/ipv4/ipconfig.py); wait up to timeout_ms
    for a lease (0: return at once). Returns the client."""
    from ksock.net.ipv4 import ipconfig
    c = ipconfig.ic_dhcp_start(dev_name, hostname, **kw)
    if timeout_ms:
        ipconfig.ic_dhcp_wait(c, timeout_ms)
    return c


def serve(ms):
    """Run the softirq loop for `ms` ms (answer ARP/ping, run timers)."""
    softirq.run_for(ms)


def proc_net_lines(name):
    """The lines of /proc/net/NAME one at a time, as a seq_file reader gets
    them: tcp and udp are made per entry, so a table of any size streams."""
    if name == "tcp" or name == "udp":
        modname = "ksock.net.ipv4.tcp_ipv4" if name == "tcp" else "ksock.net.ipv4.udp"
        try:
            mod = __import__(modname, None, None, ("x",))
        except ImportError:
            raise OSError(2)
        return getattr(mod, name + "4_seq_show")()
    if name == "snmp" or name == "netstat":
        return proc.mib_seq_show(proc.MIBS if name == "snmp" else proc.NETSTAT)
    return iter(proc_net(name).split("\n"))


def proc_net(name):
    """Text of /proc/net/{dev,arp,route,snmp,...} (one string: for a large
    tcp table read proc_net_lines)."""
    if name == "tcp" or name == "udp":
        return "\n".join(proc_net_lines(name))
    if name == "dev":
        return netdev.proc_net_dev()
    if name == "arp":
        return arp.proc_net_arp()
    if name == "route":
        return route.proc_net_route()
    if name == "snmp":
        return proc.proc_net_snmp()
    if name == "stat/rt_cache":
        return route.proc_net_stat_rt_cache()
    for modname in ("ksock.net.ipv4.udp", "ksock.net.ipv4.tcp_ipv4"):
        try:
            mod = __import__(modname, None, None, ("x",))
        except ImportError:
            continue
        f = getattr(mod, "proc_net_" + name, None)
        if f:
            return f()
    raise OSError(2)


def arping(ip, dev_name=None, timeout_ms=3000):
    """Resolve `ip` on the link (like `arping -c 1`): its MAC as bytes, or None."""
    a = devinet.inet_aton(ip)
    if dev_name is None:
        rt = route.ip_route_output(a)
        if isinstance(rt, int):
            raise OSError(-rt)
        dev_name = rt[0]
    d = netdev.dev_get_by_name(dev_name)
    n = arp.neigh_lookup(a, d)
    if n.nud_state & (arp.NUD_REACHABLE | arp.NUD_PERMANENT):
        return n.ha
    n.nud_state = 0
    arp.neigh_output_probe(n)
    ok = softirq.wait_event(lambda: n.nud_state & (arp.NUD_REACHABLE | arp.NUD_STALE | arp.NUD_FAILED)
                            and n.nud_state != arp.NUD_INCOMPLETE, timeout_ms)
    return n.ha if ok and n.nud_state != arp.NUD_FAILED else None
