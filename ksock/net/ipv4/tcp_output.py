# net/ipv4/tcp_output.c: building and sending segments. Payload comes from the
# socket's send ring (chunks of net/core/sk_mem's shared pool, held only while
# data is unacked, so unacked data never holds pool skbs); every transmission
# copies it into a fresh skb, which the device consumes -- retransmission is
# the same copy again.
from ksock.compat import const
from ksock.kernel import time as ktime
from ksock.kernel import timer, softirq
from ksock.net.core import skbuff
from ksock.net.core import sk_mem
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import ip_output
from ksock.net.ipv4.proc import tcp as MIB
from ksock.wire import tcp as wtcp

IPPROTO_TCP = const(6)
TCP_RTO_MIN = const(200)
TCP_RTO_MAX = const(120000)
TCP_TIMEOUT_INIT = const(1000)
TCP_DELACK_MIN = const(40)
TCP_INIT_CWND = const(10)
TCPF_SYN_SENT = const(1 << 2)
TCP_SYN_SENT = const(2)
TCP_NAGLE_OFF = const(1)
TCP_NAGLE_CORK = const(2)
TCP_NAGLE_PUSH = const(4)
_ACK = const(0x10)
_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ab = bytearray(8)  # saddr+daddr of a control segment sent without a sock


def _pseudo(saddr, daddr):
    """Partial sum of the pseudo-header's addresses and protocol (length added per segment)."""
    _ab[0:4] = saddr
    _ab[4:8] = daddr
    return skbuff.csum_add(skbuff.csum_partial(_ab, 0, 8), IPPROTO_TCP)


def _finish(skb, off, n, ph, rt, saddr, daddr, ttl, tos):
    """Checksum the n-byte segment at off and hand it to IP (consumes skb)."""
    c = skbuff.csum_fold(skbuff.csum_partial(skb.buf, off, n, skbuff.csum_add(ph, n)))
    skb.buf[off + 16] = c >> 8
    skb.buf[off + 17] = c & 0xFF
    MIB.OutSegs += 1
    return ip_output.ip_send_skb(skb, rt, saddr, daddr, IPPROTO_TCP, ttl, tos, True)


def tcp_send_ctl(rt, saddr, daddr, sport, dport, seqno, ackno, flags, window, mss=0, ws=-1):
    """A segment without payload and without a full sock: RSTs, SYN-ACKs of
    request socks, ACKs from TIME_WAIT. mss > 0 adds the SYN options."""
    skb = netdev.alloc_skb()
    if skb is None:
        return -105  # ENOBUFS
    hlen = 20 + (wtcp.TCPOLEN_SYN if mss else 0)
    off = skbuff.skb_push(skb, hlen)
    skb.transport_header = off
    wtcp.emit_into(skb.buf, off, sport, dport, seqno, ackno, hlen, flags, window)
    if mss:
        wtcp.emit_syn_opts(skb.buf, off + 20, mss, ws)
    if flags & _RST:
        MIB.OutRsts += 1
    return _finish(skb, off, hlen, _pseudo(saddr, daddr), rt, saddr, daddr, 64, 0)


# ---- windows ---------------------------------------------------------------------

def tcp_receive_window(sk):
    """What is left of the window we last advertised."""
    w = sk.rcv_wup + sk.rcv_wnd - sk.rcv_nxt
    return w if w > 0 else 0


def tcp_select_window(sk):
    """__tcp_select_window + tcp_select_window: the free ring space, at most
    rcv_ssthresh (cut to 4 MSS when less than half is free under memory
    pressure), 0 when it is below one MSS and less than half the ring
    (receiver SWS avoidance), never shrinking what was advertised (RFC 7323
    2.4). Returns the scaled field value."""
    size = sk.rcv_size
    free = sk.copied_seq + size - sk.rcv_nxt
    if free < (size >> 1):
        if sk_mem.tcp_memory.pressure:
            tcp_adjust_rcv_ssthresh(sk)
        if free < sk.rcv_mss:
            free = 0
    if sk.rcv_ssthresh and free > sk.rcv_ssthresh:
        free = sk.rcv_ssthresh
    cur = tcp_receive_window(sk)
    ws = sk.rcv_wscale
    if free < cur:
        free = (cur + (1 << ws) - 1) >> ws << ws
    if free > (0xFFFF << ws):
        free = 0xFFFF << ws
    sk.rcv_wnd = free
    sk.rcv_wup = sk.rcv_nxt
    return free >> ws


def tcp_adjust_rcv_ssthresh(sk):
    """Memory pressure: the window offered stops at 4 MSS (tcp_adjust_rcv_ssthresh)."""
    m = 4 * sk.advmss
    if not sk.rcv_ssthresh or sk.rcv_ssthresh > m:
        sk.rcv_ssthresh = m


# ---- data segments ---------------------------------------------------------------

def tcp_transmit(sk, seqno, n, flags):
    """Send n bytes of the send ring starting at seqno with `flags` (ACK always
    set once synchronized). Counts retransmissions. 0 or -errno."""
    skb = netdev.alloc_skb()
    if skb is None:
        return -105
    if n:
        size = sk.snd_size
        skbuff.skb_put(skb, n)
        sk_mem.ring_get_skb(sk.snd_ring, size, (sk.snd_head + (seqno - sk.snd_base)) % size,
                            skb, 0, n, skbuff.skb_store_bits)
    hlen = 20 + (wtcp.TCPOLEN_SYN if flags & _SYN else 0)
    off = skbuff.skb_push(skb, hlen)
    skb.transport_header = off
    if flags & _SYN:
        win = sk.rcv_size if sk.rcv_size < 0xFFFF else 0xFFFF  # SYN windows are never scaled
        sk.rcv_wnd = win
        sk.rcv_wup = sk.rcv_nxt
    else:
        win = tcp_select_window(sk)
    wtcp.emit_into(skb.buf, off, sk.inet_sport, sk.inet_dport, seqno, sk.rcv_nxt if flags & _ACK else 0,
                   hlen, flags, win)
    if flags & _SYN:
        wtcp.emit_syn_opts(skb.buf, off + 20, sk.advmss, sk.rcv_wscale if sk.wscale_ok else -1)
    if seqno - sk.snd_max < 0:
        MIB.RetransSegs += 1
    elif n and sk.ack_ato and ktime.clock.diff(ktime.clock.now_ms(), sk.ack_lrcvtime) < TCP_DELACK_MIN:
        sk.pingpong = 1  # a reply within the ATO of a request (tcp_event_data_sent): interactive
    if flags & _ACK:
        tcp_event_ack_sent(sk)
    if flags & _RST:
        MIB.OutRsts += 1
    # the pseudo-header sum is made per segment (0.3 us on the unix port): a field would cost every connection heap
    return _finish(skb, off, hlen + n, _pseudo(sk.inet_saddr, sk.inet_daddr), sk.sk_dst, sk.inet_saddr, sk.inet_daddr,
                   sk.uc_ttl if sk.uc_ttl >= 0 else 64, sk.tos)


def tcp_event_ack_sent(sk):
    if sk.ack_quick and sk.ack_pending:  # tcp_dec_quickack_mode: one credit per ACK of new data
        sk.ack_quick -= 1
    if sk.ack_pending:  # (written only when set: a new instance attribute costs heap)
        sk.ack_pending = 0
    if sk.rcv_unacked:
        sk.rcv_unacked = 0
    if sk.delack_timer is not None and sk.delack_timer._slot >= 0:
        timer.del_timer(sk.delack_timer)


def tcp_send_ack(sk):
    if sk.sk_dst is None:
        return
    # tcp_acceptable_seq: the highest sequence sent (Linux's snd_nxt), never the
    # go-back-N restart point, which the peer may have passed: its ACK would be
    # out of window there, and two such peers re-ACK each other forever
    tcp_transmit(sk, sk.snd_max, 0, _ACK)


_ack_soon = []  # socks owing an ACK at the end of this receive batch


def tcp_ack_soon(sk):
    """ACK at the end of the current receive batch, not per segment: one ACK
    covers every in-order segment of the batch, as GRO makes Linux do."""
    sk.ack_pending = 1
    if not sk.ack_queued:
        sk.ack_queued = 1
        _ack_soon.append(sk)


def tcp_flush_acks():
    while _ack_soon:
        sk = _ack_soon.pop()
        sk.ack_queued = 0
        if sk.ack_pending and sk.sk_dst is not None and sk.sk_state != 7:
            tcp_send_ack(sk)


softirq.register_post_rx(tcp_flush_acks)


def tcp_send_delayed_ack(sk):
    sk.ack_pending = 1
    t = sk.delack_timer
    if t._slot < 0:
        timer.mod_timer_in(t, TCP_DELACK_MIN)


def tcp_rto(sk):
    """The RTO from the estimator's state (Linux stores it as icsk_rto; a pure
    function here, so no field): SRTT + max(4 * RTTVAR, tcp_rto_min), at most
    TCP_RTO_MAX; TCP_TIMEOUT_INIT before the first sample (RFC 6298 2.1-2.3)."""
    s = sk.srtt8
    if not s:
        return TCP_TIMEOUT_INIT
    v = sk.rttvar4
    rto = (s >> 3) + (v if v > TCP_RTO_MIN else TCP_RTO_MIN)
    return rto if rto < TCP_RTO_MAX else TCP_RTO_MAX


def tcp_rearm_rto(sk):
    """Retransmit timer on while anything is unacknowledged, off otherwise."""
    t = sk.rtx_timer
    if sk.snd_una == sk.snd_max:
        if t is not None and t._slot >= 0:
            timer.del_timer(t)
    else:
        timer.mod_timer_in(t, tcp_rto(sk) << sk.backoff if sk.backoff < 10 else TCP_RTO_MAX)


def _rto_arm_if_idle(sk):
    if sk.rtx_timer._slot < 0:
        timer.mod_timer_in(sk.rtx_timer, min(tcp_rto(sk) << sk.backoff, TCP_RTO_MAX))


def tcp_connect(sk):
    """Send the SYN (SYN_SENT); RTO starts at TCP_TIMEOUT_INIT."""
    iss = sk.snd_una  # the SYN's sequence number (Linux keeps no separate ISS field)
    sk.snd_nxt = iss + 1
    sk.snd_max = sk.snd_nxt
    if sk.srtt8:  # a reused socket starts a fresh estimate: the RTO is TCP_TIMEOUT_INIT again
        sk.srtt8 = sk.rttvar4 = 0
    sk.rtt_seq = sk.snd_nxt  # the SYN-ACK gives the first RTT sample (Karn: unless resent)
    sk.rtt_ts = ktime.clock.now_ms()
    tcp_transmit(sk, iss, 0, _SYN)
    _rto_arm_if_idle(sk)


def tcp_write_xmit(sk):
    """Send what the windows allow: min(MSS, unsent, send window, cwnd room),
    holding a partial segment back under Nagle (unacked data in flight) or cork."""
    mss = sk.mss_cache
    end = sk.write_seq
    sent = 0
    while True:
        nxt = sk.snd_nxt
        left = end - nxt
        if left <= 0:
            break
        una = sk.snd_una
        n = mss if left > mss else left
        w = una + sk.snd_wnd - nxt
        if n > w:
            n = w
        c = sk.snd_cwnd * mss - (nxt - una)
        if n > c:
            n = c
        if n <= 0:
            if sk.snd_wnd == 0 and nxt == una:
                tcp_probe_timer_arm(sk)  # zero window: the persist timer probes
            break
        if n < mss and n == left:
            nonagle = sk.nonagle
            if nonagle & TCP_NAGLE_CORK or (not nonagle & (TCP_NAGLE_OFF | TCP_NAGLE_PUSH) and nxt != una):
                if not sk.fin_queued:
                    break
        flags = _ACK
        if n == left:
            flags = _ACK | _PSH
            if sk.fin_queued:
                flags |= _FIN
        err = tcp_transmit(sk, nxt, n, flags)
        if err and err != -105:
            sk.sk_err_soft = -err  # a local drop is a loss: the RTO resends it
        nxt += n + (flags & _FIN)
        sk.snd_nxt = nxt
        if nxt - sk.snd_max > 0:
            sk.snd_max = nxt
        if not sk.rtt_seq:
            sk.rtt_seq = nxt
            sk.rtt_ts = ktime.clock.now_ms()
        sent += 1
    if sk.fin_queued and sk.snd_nxt == end and sk.snd_una + sk.snd_wnd - end >= 0:
        tcp_transmit(sk, end, 0, _ACK | _FIN)  # a lone FIN (lost if the device fails)
        sk.snd_nxt = end + 1
        if end + 1 - sk.snd_max > 0:
            sk.snd_max = end + 1
        sent += 1
    if sent:
        _rto_arm_if_idle(sk)
    return sent


def tcp_push_pending_frames(sk):
    if sk.sk_dst is not None and (sk.write_seq - sk.snd_nxt > 0 or sk.fin_queued):
        tcp_write_xmit(sk)


def tcp_retransmit_head(sk):
    """Resend the first unacknowledged segment (fast retransmit, partial ACK)."""
    una = sk.snd_una
    top = sk.snd_max
    end = sk.write_seq
    if sk.sk_state == TCP_SYN_SENT:
        return tcp_transmit(sk, una, 0, _SYN)  # (snd_una is the ISS until the SYN is acked)
    n = end - una
    if n > sk.mss_cache:
        n = sk.mss_cache
    if n < 0:
        n = 0
    flags = _ACK
    if sk.fin_queued and una + n == end and top - end > 0:
        flags |= _FIN
    if n == 0 and not flags & _FIN:
        return 0
    sk.rtt_seq = 0  # Karn: no RTT sample from a retransmitted range
    return tcp_transmit(sk, una, n, flags)


def tcp_send_fin(sk):
    """Queue the FIN after the data (tcp_send_fin): sent now or piggybacked."""
    sk.fin_queued = 1
    tcp_write_xmit(sk)


def tcp_send_active_reset(sk):
    """RST with our current sequence (close with unread data, linger 0, abort)."""
    if sk.sk_dst is None:
        return
    tcp_transmit(sk, sk.snd_max, 0, _ACK | _RST)  # tcp_acceptable_seq, as tcp_send_ack


def tcp_xmit_probe_skb(sk):
    """An ACK with an old sequence number: the peer answers with its window
    (zero-window probes, keepalives)."""
    return tcp_transmit(sk, sk.snd_una - 1, 0, _ACK)


def tcp_probe_timer_arm(sk):
    t = sk.rtx_timer
    if t._slot < 0:
        sk.probe_mode = 1
        timer.mod_timer_in(t, min(tcp_rto(sk) << sk.backoff, TCP_RTO_MAX))


# ---- connection set-up --------------------------------------------------------------
from ksock.compat import PLATFORM  # noqa: E402
from ksock.net.core import sysctl  # noqa: E402

TCP_RING_MAX = const(1 << 20) if PLATFORM == "linux" else const(16384)


def tcp_advmss(sk, rt):
    """The MSS we announce: the route's MTU less 40, clamped by TCP_MAXSEG."""
    mss = rt[0].mtu - 40
    if sk.user_mss and sk.user_mss < mss:
        mss = sk.user_mss
    return mss


def tcp_rcv_ring_size(sk):
    """Receive ring = half of sk_rcvbuf (Linux's tcp_adv_win_scale 1: the window
    is half the buffer), so SO_RCVBUF=X gives a window of about X, as in Linux."""
    n = sk.sk_rcvbuf >> 1
    return TCP_RING_MAX if n > TCP_RING_MAX else (n if n > 1024 else 1024)


def tcp_snd_ring_size(sk):
    n = sk.sk_sndbuf
    return TCP_RING_MAX if n > TCP_RING_MAX else (n if n > 2048 else 2048)


def tcp_rcv_wscale(size):
    ws = 0
    while (size >> ws) > 0xFFFF and ws < 14:
        ws += 1
    return ws


SOCK_SNDBUF_LOCK = const(1)  # sk_userlocks (include/net/sock.h)
SOCK_RCVBUF_LOCK = const(2)
# Linux's sizes in tcp_sndbuf_expand's worst case (x86-64, no GSO): MAX_TCP_HEADER,
# SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), SKB_DATA_ALIGN(sizeof(struct sk_buff))
MAX_TCP_HEADER = const(320)
SHINFO_SIZE = const(320)
SKB_SIZE = const(256)


def tcp_sndbuf_expand(sk, mss):
    """tcp_sndbuf_expand (tcp_input.c, run by tcp_init_buffer_space): unless
    SO_SNDBUF locked it, sk_sndbuf becomes room for twice the initial window of
    worst-case skbs (87040 with a 1460 MSS, as `ss -m` shows on Linux), at most
    tcp_wmem[2]. Without it a board's tcp_wmem[1] of 2 KB holds one full segment
    and a Nagle-held tail: Linux delays the ACK of a lone segment 40 ms and the
    sender stalls on every send()."""
    if sk.sk_userlocks & SOCK_SNDBUF_LOCK or PLATFORM != "linux":
        # not on boards yet: with an 8 KB (or 4 KB) send buffer both ends of
        # test_tcp_impair on QEMU stall until ETIMEDOUT, every retransmit
        # dropped for want of a chunk (TCPRcvQDrop); docs/tcp.md
        return
    per = mss + MAX_TCP_HEADER + SHINFO_SIZE
    p2 = 1
    while p2 < per:
        p2 <<= 1
    cw = sk.snd_cwnd
    n = 2 * (cw if cw > TCP_INIT_CWND else TCP_INIT_CWND) * (p2 + SKB_SIZE)
    top = sysctl.sysctl("net.ipv4.tcp_wmem")[2]
    if sk.sk_sndbuf < n:
        sk.sk_sndbuf = n if n < top else top


def tcp_fixup_rcvbuf(sk, mss):
    """tcp_fixup_rcvbuf (Linux up to 4.18, run by tcp_init_buffer_space):
    unless SO_RCVBUF locked it, sk_rcvbuf becomes room for twice an initial
    receive window of 10 worst-case skbs, at most tcp_rmem[2]. Linux 4.19 dropped
    it when tcp_rmem[1] went to 128 KB, which the unix port's default is; a
    board's tcp_rmem[1] of 4 KB is a 2 KB window, and Linux's sender then cuts
    its segments to half that window (tcp_bound_to_half_wnd) and waits for our
    ACK after each pair."""
    if sk.sk_userlocks & SOCK_RCVBUF_LOCK:
        return
    # 2 * SKB_TRUESIZE(mss + MAX_TCP_HEADER) * tcp_default_init_rwnd(mss); not the
    # 4x more that tcp_moderate_rcvbuf added for DRS, which ksock does not do
    n = 2 * (mss + MAX_TCP_HEADER + SKB_SIZE + SHINFO_SIZE) * (TCP_INIT_CWND if mss <= 1460 else
                                                              max(14600 // mss, 2))
    top = sysctl.sysctl("net.ipv4.tcp_rmem")[2]
    if sk.sk_rcvbuf < n:
        sk.sk_rcvbuf = n if n < top else top


def tcp_connect_init(sk, rt, rcv_wscale=-1):
    """Ring sizes (the rings come with the first data: tcp_timer's
    tcp_snd_ring_make / tcp_rcv_ring_make), MSS, window scale and
    pseudo-header sum for a connection on route `rt`; sk_dst set marks a sock
    that has a TCB. Fields at their class defaults stay unset (heap per
    connection). The send ring is sized after tcp_sndbuf_expand, which Linux
    runs at the end of the handshake: here from the MSS the route allows."""
    m = tcp_advmss(sk, rt)
    tcp_sndbuf_expand(sk, m if m > sk.mss_cache else sk.mss_cache)
    tcp_fixup_rcvbuf(sk, m)
    rsize = tcp_rcv_ring_size(sk)
    ssize = tcp_snd_ring_size(sk)
    if rsize != sk.rcv_size:
        sk.rcv_size = rsize
    if ssize != sk.snd_size:
        sk.snd_size = ssize
    sk.sk_dst = rt
    sk_mem.tcp_memory.sockets += 1
    if m != sk.advmss:
        sk.advmss = m
    m = sk.advmss if sk.advmss < 536 else 536
    if m != sk.rcv_mss:
        sk.rcv_mss = m
    if rcv_wscale >= 0:
        if rcv_wscale != sk.rcv_wscale:
            sk.rcv_wscale = rcv_wscale
    elif sysctl.sysctl("net.ipv4.tcp_window_scaling"):
        ws = tcp_rcv_wscale(rsize)
        if ws != sk.rcv_wscale:
            sk.rcv_wscale = ws
        sk.wscale_ok = 1  # offered; cleared if the SYN-ACK has none
    elif sk.rcv_wscale:
        sk.rcv_wscale = 0
    sk.rcv_tstamp = ktime.clock.now_ms()
    return 0
