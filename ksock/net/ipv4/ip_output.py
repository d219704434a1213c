# IPv4 transmit (net/ipv4/ip_output.c): push and fill the header of a packet
# whose skb.data is at its transport header, route it, hand it to the
# neighbour layer. No fragmentation: callers check the MTU first (EMSGSIZE).
from ksock.compat import const
from ksock.net.core import skbuff
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import route, arp
from ksock.net.ipv4.proc import ip as MIB
from ksock.wire import ipv4 as wip

IP_DEFAULT_TTL = 64
_ip_id = [1]


def ip_route(daddr, oif=None):
    """(dev, next_hop, saddr) or -errno; counts OutNoRoutes."""
    rt = route.ip_route_output(daddr, oif)
    if isinstance(rt, int):
        MIB.OutNoRoutes += 1
        return rt
    dev = netdev.dev_get_by_name(rt[0])
    if dev is None or not dev.flags & netdev.IFF_UP:
        MIB.OutNoRoutes += 1
        return -101  # ENETUNREACH
    return dev, rt[1], rt[2]


# Routes held by connections, shared as Linux's socks share a dst_entry: equal
# routes are one tuple (and one next-hop address), not one per connection.
DST_CACHE_MAX = const(8)
_dst_cache = []


def ip_route_connect(daddr):
    """ip_route for a TCP connection: an equal route already held is returned
    instead (compared after a fresh lookup, so a changed table is never hidden)."""
    rt = ip_route(daddr)
    if isinstance(rt, int):
        return rt
    for r in _dst_cache:
        if r[0] is rt[0] and r[1] == rt[1] and r[2] == rt[2]:
            return r
    if len(_dst_cache) >= DST_CACHE_MAX:
        _dst_cache.pop(0)
    _dst_cache.append(rt)
    return rt


def ip_mtu(rt):
    return rt[0].mtu


def ip_send_skb(skb, rt, saddr, daddr, proto, ttl=IP_DEFAULT_TTL, tos=0, df=True):
    """Build the IP header in front of skb.data and send along route `rt`.
    The skb is consumed. Returns 0 or -errno."""
    dev, nexthop, _ = rt
    payload = skb.len
    off = skbuff.skb_push(skb, wip.IP_HLEN)
    skb.network_header = off
    ident = _ip_id[0]
    _ip_id[0] = (ident + 1) & 0xFFFF
    wip.emit_into(skb.buf, off, payload + wip.IP_HLEN, ident, wip.IP_DF if df else 0, ttl, proto,
                  saddr, daddr, tos)
    c = skbuff.ip_fast_csum(skb.buf, off, 5)
    skb.buf[off + 10] = c >> 8
    skb.buf[off + 11] = c & 0xFF
    MIB.OutRequests += 1
    err = arp.neigh_output(skb, dev, nexthop)
    if err and err != -105:
        MIB.OutDiscards += 1
    return err
