# ICMP (net/ipv4/icmp.c): echo replies, errors about packets we received
# (port/protocol unreachable) under Linux's rate limits, and errors about our
# own packets passed to the protocol's err_handler (UDP's ECONNREFUSED).
from ksock.kernel import time as ktime
from ksock.net.core import skbuff
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import ip_input, ip_output
from ksock.net.ipv4.proc import icmp as MIB
from ksock.net.ipv4.protocol import net_protocol, inet_add_protocol, inet_protos
from ksock.wire import icmp as wicmp
from ksock.wire import ipv4 as wip

# sysctls net.ipv4.icmp_* (Linux defaults)
icmp_msgs_per_sec = 1000
icmp_msgs_burst = 50
icmp_ratelimit = 1000  # ms per token, per destination (inet_peer_xrlim_allow)
XRLIM_BURST_FACTOR = 6
icmp_ratemask = (1 << 3) | (1 << 4) | (1 << 11) | (1 << 12)  # 0x1818

_global = [icmp_msgs_burst, 0]  # tokens, last refill ms
_peers = {}  # daddr -> [tokens_ms, last_ms]; bounded
_PEERS_MAX = 32


def _global_allow(now):
    tok, last = _global
    add = ktime.clock.diff(now, last) * icmp_msgs_per_sec // 1000
    if add > 0:
        tok = min(icmp_msgs_burst, tok + add)
        _global[1] = now
    if tok > 0:
        _global[0] = tok - 1
        return True
    _global[0] = tok
    return False


def _peer_allow(daddr, now):
    p = _peers.get(daddr)
    if p is None:
        if len(_peers) >= _PEERS_MAX:
            _peers.pop(next(iter(_peers)))
        p = _peers[daddr] = [XRLIM_BURST_FACTOR * icmp_ratelimit, now]
    tok = p[0] + ktime.clock.diff(now, p[1])
    p[1] = now
    tok = min(tok, XRLIM_BURST_FACTOR * icmp_ratelimit)
    if tok >= icmp_ratelimit:
        p[0] = tok - icmp_ratelimit
        return True
    p[0] = tok
    return False


def _csum_fill(buf, off, n):
    buf[off + 2] = buf[off + 3] = 0
    c = skbuff.csum_fold(skbuff.csum_partial(buf, off, n))
    buf[off + 2] = c >> 8
    buf[off + 3] = c & 0xFF


def icmp_send(skb_in, type, code, info=0):
    """Send an ICMP error about received packet skb_in (not consumed)."""
    buf = skb_in.buf
    nh = skb_in.network_header
    ihl = (buf[nh] & 0xF) * 4
    if buf[nh + 9] == wip.IPPROTO_ICMP:
        t = buf[nh + ihl]
        if t not in (0, 8, 13, 14, 15, 16, 17, 18):  # never an error about an error
            return
    saddr = wip.saddr(buf, nh)
    if saddr[0] == 0 or saddr[0] >= 224:
        return
    now = ktime.clock.now_ms()
    if icmp_ratemask & (1 << type):
        if not _global_allow(now):
            MIB.OutRateLimitGlobal += 1
            return
        if not _peer_allow(saddr, now):
            MIB.OutRateLimitHost += 1
            return
    rt = ip_output.ip_route(saddr)
    if isinstance(rt, int):
        return
    skb = netdev.alloc_skb()
    if skb is None:
        MIB.OutErrors += 1
        return
    # as much of the offending datagram as fits in 576 bytes (RFC 1812 4.3.2.3)
    quote = min((buf[nh + 2] << 8) | buf[nh + 3], 576 - 20 - 8)
    off = skbuff.skb_put(skb, 8 + quote)
    b = skb.buf
    b[off] = type
    b[off + 1] = code
    b[off + 4] = (info >> 24) & 0xFF
    b[off + 5] = (info >> 16) & 0xFF
    b[off + 6] = (info >> 8) & 0xFF
    b[off + 7] = info & 0xFF
    skbuff.skb_store_bits(skb, 8, buf, nh, quote)
    _csum_fill(b, off, 8 + quote)
    MIB.OutMsgs += 1
    if type == wicmp.ICMP_DEST_UNREACH:
        MIB.OutDestUnreachs += 1
    ip_output.ip_send_skb(skb, rt, rt[2], saddr, wip.IPPROTO_ICMP, tos=0xC0, df=False)


def _echo_reply(skb):
    """Turn the echo request around in its own skb: no allocation."""
    buf = skb.buf
    nh = skb.network_header
    src = wip.saddr(buf, nh)
    dst = wip.daddr(buf, nh)
    if skb.cb[0] != ip_input.PKT_HOST:
        skbuff.kfree_skb(skb)  # no replies to broadcast pings (icmp_echo_ignore_broadcasts=1)
        return
    off = skb.data
    buf[off] = wicmp.ICMP_ECHOREPLY
    _csum_fill(buf, off, skb.len)
    rt = ip_output.ip_route(src)
    if isinstance(rt, int):
        skbuff.kfree_skb(skb)
        return
    MIB.OutMsgs += 1
    MIB.OutEchoReps += 1
    ip_output.ip_send_skb(skb, rt, dst, src, wip.IPPROTO_ICMP, df=False)


def icmp_rcv(skb):
    MIB.InMsgs += 1
    n = skb.len
    if n < wicmp.ICMP_HLEN:
        MIB.InErrors += 1
        skbuff.kfree_skb(skb)
        return
    if skbuff.csum_fold(skbuff.csum_partial(skb.buf, skb.data, n)) != 0:
        MIB.InCsumErrors += 1
        MIB.InErrors += 1
        skbuff.kfree_skb(skb)
        return
    t = skb.buf[skb.data]
    if t == wicmp.ICMP_ECHO:
        MIB.InEchos += 1
        _echo_reply(skb)
        return
    if t == wicmp.ICMP_ECHOREPLY:
        MIB.InEchoReps += 1
    elif t == wicmp.ICMP_DEST_UNREACH:
        MIB.InDestUnreachs += 1
        _deliver_error(skb)
    elif t == wicmp.ICMP_TIME_EXCEEDED:
        MIB.InTimeExcds += 1
        _deliver_error(skb)
    elif t == wicmp.ICMP_PARAMETERPROB:
        MIB.InParmProbs += 1
    skbuff.kfree_skb(skb)


def _deliver_error(skb):
    """icmp_unreach -> the inner protocol's err_handler, with the quoted header."""
    off = skb.data + 8
    if skb.len < 8 + 20 + 8:
        MIB.InErrors += 1
        return
    buf = skb.buf
    inner_ihl = (buf[off] & 0xF) * 4
    if inner_ihl < 20 or skb.len < 8 + inner_ihl + 8:
        MIB.InErrors += 1
        return
    prot = inet_protos.get(buf[off + 9])
    if prot is not None and prot.err_handler is not None:
        prot.err_handler(skb, buf[skb.data], buf[skb.data + 1], off)


icmp_protocol = net_protocol(icmp_rcv)


def icmp_init():
    inet_add_protocol(icmp_protocol, wip.IPPROTO_ICMP)
    ip_input.icmp_send_hook[0] = icmp_send
