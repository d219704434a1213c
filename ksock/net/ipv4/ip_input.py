# IPv4 receive (net/ipv4/ip_input.c): ip_rcv validates and counts exactly where
# ip_rcv_core does, then ip_local_deliver hands the payload up via inet_protos.
# Fragments are not reassembled: each is counted (ReasmReqds, ReasmFails) and
# dropped -- a fixed-memory choice for 140 KB boards (docs/ip.md).
from ksock.net.core import skbuff
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import devinet, route
from ksock.net.ipv4.devinet import RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST
from ksock.net.ipv4.proc import ip as MIB
from ksock.net.ipv4.protocol import inet_protos
from ksock.wire import ipv4 as wip
from ksock.wire import eth

# cb[0] of a received skb: how it was addressed at L2/L3 (PACKET_* in spirit)
PKT_HOST = 0
PKT_BROADCAST = 1
PKT_MULTICAST = 2

icmp_send_hook = [None]  # set by icmp: (skb, type, code) for protocol unreachable


def ip_rcv(skb, dev):
    buf = skb.buf
    mac = skb.mac_header
    if buf[mac] & 1 == 0 and not eth.dst_is(buf, mac, dev.dev_addr) and not dev.flags & netdev.IFF_LOOPBACK:
        dev.stats.rx_otherhost_dropped += 1  # PACKET_OTHERHOST: not ours at L2 (Linux 5.19+ counts it so)
        skbuff.kfree_skb(skb)
        return
    MIB.InReceives += 1
    off = skb.data
    verdict, ihl, tot = wip.check(buf, off, skb.len, skbuff.ip_fast_csum)
    if verdict:
        if verdict == wip.E_TRUNCATED:
            MIB.InTruncatedPkts += 1
        else:
            if verdict == wip.E_CSUM:
                MIB.InCsumErrors += 1
            MIB.InHdrErrors += 1
        skbuff.kfree_skb(skb)
        return
    if skb.len > tot:
        skbuff.skb_trim(skb, tot)  # drop Ethernet padding
    daddr = wip.daddr(buf, off)
    t = devinet.inet_addr_type(daddr)
    if not dev.flags & netdev.IFF_LOOPBACK and route.ip_route_input_martian(buf, off, t, dev):
        skbuff.kfree_skb(skb)  # ip_route_input_slow: a martian (counted in stat/rt_cache)
        return
    if t == RTN_LOCAL:
        skb.cb[0] = PKT_HOST
    elif t == RTN_BROADCAST:
        skb.cb[0] = PKT_BROADCAST
    elif t == RTN_MULTICAST:
        skb.cb[0] = PKT_MULTICAST
    else:
        MIB.InAddrErrors += 1  # not ours and we do not forward (ip_error)
        skbuff.kfree_skb(skb)
        return
    frag = (buf[off + 6] << 8) | buf[off + 7]
    if frag & (wip.IP_MF | wip.IP_OFFSET):
        MIB.ReasmReqds += 1
        MIB.ReasmFails += 1
        skbuff.kfree_skb(skb)
        return
    ip_local_deliver(skb, ihl)


def ip_local_deliver(skb, ihl):
    proto = skb.buf[skb.network_header + 9]
    skb.transport_header = skb.data + ihl
    skbuff.skb_pull(skb, ihl)
    prot = inet_protos.get(proto)
    if prot is None:
        MIB.InUnknownProtos += 1
        if skb.cb[0] == PKT_HOST and icmp_send_hook[0] is not None:
            icmp_send_hook[0](skb, 3, 2)  # ICMP_DEST_UNREACH / ICMP_PROT_UNREACH
        skbuff.kfree_skb(skb)
        return
    MIB.InDelivers += 1
    prot.handler(skb)


def ip_init():
    netdev.dev_add_pack(eth.ETH_P_IP, ip_rcv)
