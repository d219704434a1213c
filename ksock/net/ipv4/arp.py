# ARP and the IPv4 neighbour table (net/ipv4/arp.c, net/core/neighbour.c).
# States as Linux's NUD_*: INCOMPLETE while resolving (a few packets queued,
# bounded), REACHABLE after a reply, STALE when reachable_time passes, DELAY and
# PROBE to re-confirm a STALE entry in use, FAILED after the probes run out.
from ksock.compat import const, PLATFORM
from ksock.kernel import time as ktime
from ksock.kernel.timer import timer_list, mod_timer_in, del_timer
from ksock.net.core import dev as netdev
from ksock.net.core import skbuff
from ksock.net.ipv4 import devinet
from ksock.net.ipv4.proc import arp as MIB
from ksock.wire import arp as warp
from ksock.wire import eth

NUD_INCOMPLETE = const(0x01)
NUD_REACHABLE = const(0x02)
NUD_STALE = const(0x04)
NUD_DELAY = const(0x08)
NUD_PROBE = const(0x10)
NUD_FAILED = const(0x20)
NUD_NOARP = const(0x40)
NUD_PERMANENT = const(0x80)
NUD_NAMES = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY",
             0x10: "PROBE", 0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}

# neigh_parms defaults of Linux (ms)
RETRANS_TIME = 1000
MCAST_SOLICIT = 3
UCAST_SOLICIT = 3
REACHABLE_TIME = 30000
DELAY_PROBE_TIME = 5000
UNRES_QLEN = 3
GC_TIME = 60000
# fixed table size; the oldest non-permanent FAILED/STALE entry is reused. A neighbour
# costs ~350 B: 64 of them are a sixth of a board's ~140 KB heap (fuzzing filled it).
TBL_MAX = 64 if PLATFORM == "linux" else 16


class neighbour:
    __slots__ = ("ip", "dev", "ha", "nud_state", "probes", "updated", "arp_queue", "timer")

    def __init__(self, ip, dev):
        self.ip = ip
        self.dev = dev
        self.ha = None
        self.nud_state = NUD_INCOMPLETE
        self.probes = 0
        self.updated = ktime.clock.now_ms()
        self.arp_queue = skbuff.Queue()
        self.timer = timer_list(_neigh_timer, self)


arp_tbl = {}  # ip bytes -> neighbour
arp_rcv_hooks = []  # callables(dev, op, sha, sip, tip) seeing every valid ARP


def _set_state(n, state):
    n.nud_state = state
    n.updated = ktime.clock.now_ms()


def arp_send(dev, op, tip, tha, sip, dest_mac=eth.BROADCAST):
    skb = netdev.alloc_skb()
    if skb is None:
        return -105  # ENOBUFS
    off = skbuff.skb_put(skb, warp.ARP_HLEN)
    warp.emit_into(skb.buf, off, op, dev.dev_addr, sip, tha, tip)
    netdev.dev_hard_header(skb, dev, eth.ETH_P_ARP, dest_mac)
    if op == warp.ARPOP_REQUEST:
        MIB.OutRequests += 1
    else:
        MIB.OutReplies += 1
    return netdev.dev_queue_xmit(skb, dev)


def _solicit(n):
    src = None
    for ifa in devinet.inet_ifaddrs(n.dev.name):
        src = ifa.ifa_local
        if ifa.contains(n.ip):
            break
    if src is None:
        return
    unicast = n.nud_state == NUD_PROBE and n.ha is not None
    arp_send(n.dev, warp.ARPOP_REQUEST, n.ip, n.ha if unicast else b"\x00" * 6, src,
             n.ha if unicast else eth.BROADCAST)
    n.probes += 1


def _neigh_timer(n):
    st = n.nud_state
    if st == NUD_INCOMPLETE or st == NUD_PROBE:
        limit = MCAST_SOLICIT if st == NUD_INCOMPLETE else UCAST_SOLICIT
        if n.probes >= limit:
            _set_state(n, NUD_FAILED)  # RFC 4861-style: out of probes
            MIB.Failed += 1
            MIB.UnresolvedDiscards += skbuff.skb_queue_len(n.arp_queue)
            skbuff.skb_queue_purge(n.arp_queue)
            mod_timer_in(n.timer, GC_TIME)
            return
        _solicit(n)
        mod_timer_in(n.timer, RETRANS_TIME)
    elif st == NUD_REACHABLE:
        _set_state(n, NUD_STALE)  # reachable_time passed without confirmation
        mod_timer_in(n.timer, GC_TIME)
    elif st == NUD_DELAY:
        _set_state(n, NUD_PROBE)  # still no confirmation: probe by unicast
        n.probes = 0
        _solicit(n)
        mod_timer_in(n.timer, RETRANS_TIME)
    elif st == NUD_FAILED or st == NUD_STALE:
        arp_tbl.pop(n.ip, None)  # garbage-collect an unused entry


def _evict():
    for st in (NUD_FAILED, NUD_STALE):
        for ip, n in arp_tbl.items():
            if n.nud_state == st:
                del_timer(n.timer)
                skbuff.skb_queue_purge(n.arp_queue)
                del arp_tbl[ip]
                return True
    return False


def neigh_lookup(ip, dev, create=True):
    n = arp_tbl.get(ip)
    if n is None and create:
        if len(arp_tbl) >= TBL_MAX and not _evict():
            return None
        try:
            n = neighbour(ip, dev)
        except MemoryError:  # neigh_alloc failing (a fragmented board heap): no entry, as a full table
            return None
        n.nud_state = 0
        arp_tbl[ip] = n
    return n


def neigh_update(n, ha, state):
    n.ha = ha
    _set_state(n, state)
    n.probes = 0
    if state == NUD_REACHABLE:
        mod_timer_in(n.timer, REACHABLE_TIME)
    # flush what waited for resolution
    while True:
        skb = skbuff.skb_dequeue(n.arp_queue)
        if skb is None:
            break
        _xmit(skb, n)


def _xmit(skb, n):
    netdev.dev_hard_header(skb, n.dev, eth.ETH_P_IP, n.ha)
    return netdev.dev_queue_xmit(skb, n.dev)


_LO_MAC = bytes(6)


def neigh_output(skb, dev, nexthop):
    """Send an IPv4 packet (skb.data at the IP header) to `nexthop` on `dev`."""
    if dev.flags & netdev.IFF_LOOPBACK:
        netdev.dev_hard_header(skb, dev, eth.ETH_P_IP, _LO_MAC)
        return netdev.dev_queue_xmit(skb, dev)
    n = arp_tbl.get(nexthop)
    if n is not None and n.nud_state & (NUD_REACHABLE | NUD_PERMANENT) and n.dev is dev:
        return _xmit(skb, n)  # the common case first: a resolved unicast neighbour
    if nexthop == devinet.INADDR_BROADCAST or _is_subnet_broadcast(nexthop, dev):
        netdev.dev_hard_header(skb, dev, eth.ETH_P_IP, eth.BROADCAST)
        return netdev.dev_queue_xmit(skb, dev)
    n = neigh_lookup(nexthop, dev)
    if n is None:
        skbuff.kfree_skb(skb)
        return -105  # ENOBUFS: table full of live entries
    st = n.nud_state
    if st & (NUD_REACHABLE | NUD_PERMANENT | NUD_DELAY | NUD_PROBE):
        return _xmit(skb, n)
    if st == NUD_STALE:
        _set_state(n, NUD_DELAY)  # use it, and re-confirm soon
        mod_timer_in(n.timer, DELAY_PROBE_TIME)
        return _xmit(skb, n)
    if st == NUD_FAILED or st == 0:
        neigh_output_probe(n)
    # INCOMPLETE: queue (bounded: the oldest is dropped, as __neigh_event_send)
    if skbuff.skb_queue_len(n.arp_queue) >= UNRES_QLEN:
        skbuff.kfree_skb(skbuff.skb_dequeue(n.arp_queue))
        MIB.UnresolvedDiscards += 1
    skbuff.skb_queue_tail(n.arp_queue, skb)
    return 0


def neigh_output_probe(n):
    """Start resolving `n` with nothing queued (arping)."""
    n.probes = 0
    _set_state(n, NUD_INCOMPLETE)
    _solicit(n)
    mod_timer_in(n.timer, RETRANS_TIME)


def _is_subnet_broadcast(ip, dev):
    for ifa in devinet.inet_ifaddrs(dev.name):
        if ifa.ifa_prefixlen < 31 and ip == ifa.ifa_broadcast:
            return True
    return False


def arp_rcv(skb, dev):
    """ETH_P_ARP handler: learn the sender, answer requests for our addresses."""
    p = warp.parse(skb.buf, skb.data, skb.len)
    skbuff.kfree_skb(skb)
    if p is None:
        MIB.InErrors += 1
        return
    op, sha, sip, tha, tip = p
    if sha[0] & 1:  # a multicast sender address is bogus
        MIB.InErrors += 1
        return
    for h in arp_rcv_hooks:
        h(dev, op, sha, sip, tip)  # address conflict detection (DHCP's RFC 5227 probe)
    ours = False
    for ifa in devinet.inet_ifaddrs(dev.name):
        if ifa.ifa_local == tip:
            ours = True
            break
    if op == warp.ARPOP_REQUEST:
        MIB.InRequests += 1
    elif op == warp.ARPOP_REPLY:
        MIB.InReplies += 1
    else:
        MIB.InErrors += 1
        return
    if sip != devinet.INADDR_ANY:
        n = arp_tbl.get(sip)
        if n is not None and n.nud_state != NUD_PERMANENT:
            if op == warp.ARPOP_REPLY:
                neigh_update(n, sha, NUD_REACHABLE)  # a reply confirms reachability
            elif n.nud_state == NUD_INCOMPLETE or n.ha != sha:
                neigh_update(n, sha, NUD_STALE)  # a request only tells us the address
                mod_timer_in(n.timer, GC_TIME)
        elif ours:
            n = neigh_lookup(sip, dev)
            if n is not None:
                neigh_update(n, sha, NUD_STALE)  # as arp_process: create STALE
                mod_timer_in(n.timer, GC_TIME)
    if op == warp.ARPOP_REQUEST and ours:
        arp_send(dev, warp.ARPOP_REPLY, sip, sha, tip, sha)


def arp_announce(dev, ip):
    """Gratuitous ARP when an address comes up (arp_ifa_event -> arp_send)."""
    return arp_send(dev, warp.ARPOP_REQUEST, ip, b"\x00" * 6, ip)


def _on_ifa(event, ifa):
    if event == "up":
        d = netdev.dev_get_by_name(ifa.ifa_dev)
        if d is not None and d.flags & netdev.IFF_UP and not d.flags & netdev.IFF_LOOPBACK:
            arp_announce(d, ifa.ifa_local)


def neigh_add(ip, ha, dev, permanent=True):
    """`ip neigh add IP lladdr HA dev DEV nud permanent`."""
    n = neigh_lookup(ip, dev)
    neigh_update(n, ha, NUD_PERMANENT if permanent else NUD_REACHABLE)
    return 0


def proc_net_arp():
    lines = ["IP address       HW type     Flags       HW address            Mask     Device"]
    for ip, n in arp_tbl.items():
        flags = 0x2 if n.ha is not None and n.nud_state != NUD_FAILED else 0
        if n.nud_state == NUD_PERMANENT:
            flags |= 0x4
        lines.append("%-16s 0x1         0x%-9x %-21s *        %s   %s" % (
            devinet.inet_ntoa(ip), flags, eth.mac_str(n.ha) if n.ha else "00:00:00:00:00:00",
            n.dev.name, NUD_NAMES.get(n.nud_state, "NONE")))
    return "\n".join(lines)


def arp_init():
    netdev.dev_add_pack(eth.ETH_P_ARP, arp_rcv)
    devinet.register_inetaddr_notifier(_on_ifa)
