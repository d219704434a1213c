# net/ipv4/tcp_timer.c: the retransmit timer (RTO with Karn backoff, SYN
# retries, zero-window probes), the delayed-ACK timer, the keepalive timer
# (which also ends orphaned FIN_WAIT2), the TIME_WAIT timer and the SYN-ACK
# timer of request socks. Each timer holds its sock; nothing allocated per arm.
from ksock.compat import const
from ksock.kernel import time as ktime
from ksock.kernel import timer
from ksock.net.core import sysctl, sk_mem
from ksock.net.core.sock import sock_flag, SOCK_DEAD, SOCK_KEEPOPEN, HZ
from ksock.net.ipv4 import tcp_output
from ksock.net.ipv4.proc import tcpext as XMIB
from ksock.uapi.errno import ETIMEDOUT

TCP_RTO_MAX = const(120000)
TCP_ESTABLISHED = const(1)
TCP_SYN_SENT = const(2)
TCP_FIN_WAIT2 = const(5)
TCP_CLOSE = const(7)
TCP_CLOSE_WAIT = const(8)
TCP_LISTEN = const(10)
TCP_ORPHAN_RETRIES = const(8)  # tcp_orphan_retries 0 means 8 (tcp_orphan_retries())


# Linux's tcp_init_xmit_timers sets up three timers in every sock; here each
# timer, and each ring, is made when first needed, so an idle connection holds
# neither: the retransmit timer with the send ring (or for the SYN, a FIN), the
# delayed-ACK timer with the receive ring (the first data), the keepalive timer
# for SO_KEEPALIVE or an orphan's FIN_WAIT2. They are made in the calls that can
# answer ENOBUFS (connect, send, setsockopt, close) or, for the receive ring, on
# the segment that is dropped and counted when the heap has no room.

def tcp_initialize_rcv_mss(sk):
    """tcp_initialize_rcv_mss: the first guess of the peer's segment size, at
    most TCP_MSS_DEFAULT (536) until a larger segment arrives."""
    m = sk.advmss if sk.advmss < sk.mss_cache else sk.mss_cache
    w = sk.rcv_wnd >> 1
    if w and m > w:
        m = w
    if m > 536:
        m = 536
    if m < 88:
        m = 88
    if m != sk.rcv_mss:
        sk.rcv_mss = m


def tcp_rtx_timer_make(sk):
    """The retransmit timer (SYN, data, FIN); False when the heap has no room."""
    if sk.rtx_timer is None:
        try:
            sk.rtx_timer = timer.timer_list(tcp_write_timer, sk)
        except MemoryError:
            return False
    return True


def tcp_ka_timer_make(sk):
    """The keepalive timer (SO_KEEPALIVE, an orphan's FIN_WAIT2); False: no heap."""
    if sk.ka_timer is None:
        try:
            sk.ka_timer = timer.timer_list(tcp_keepalive_timer, sk)
        except MemoryError:
            return False
    return True


def tcp_snd_ring_make(sk):
    """The send ring's slot table (no chunk yet) and the retransmit timer, at
    the first data the user sends; None when the heap has no room."""
    if not tcp_rtx_timer_make(sk):
        return None
    try:
        r = sk.snd_ring = sk_mem.ring_new(sk.snd_size)
    except MemoryError:
        return None
    return r


def tcp_rcv_ring_make(sk):
    """The receive ring's slot table and the delayed-ACK timer, at the first
    data that arrives; None when the heap has no room (the segment is dropped)."""
    try:
        if sk.delack_timer is None:
            sk.delack_timer = timer.timer_list(tcp_delack_timer, sk)
        r = sk.rcv_ring = sk_mem.ring_new(sk.rcv_size)
    except MemoryError:
        return None
    return r


def _tcp():
    from ksock.net.ipv4 import tcp  # tcp imports us: resolved at call time
    return tcp


def tcp_write_err(sk):
    """Give up: ETIMEDOUT (or the soft error recorded), connection done."""
    sk.sk_err = sk.sk_err_soft or ETIMEDOUT
    t = _tcp()
    t.tcp_done(sk)
    if not sock_flag(sk, SOCK_DEAD):
        sk.sk_error_report(sk)


def _rearm(sk):
    b = sk.backoff
    timer.mod_timer_in(sk.rtx_timer, TCP_RTO_MAX if b > 9 else min(tcp_output.tcp_rto(sk) << b, TCP_RTO_MAX))


def tcp_probe_timer(sk):
    """Zero window: an ACK with an old sequence makes the peer restate its window."""
    if sk.snd_wnd or sk.write_seq == sk.snd_nxt and not sk.fin_queued:
        sk.probe_mode = 0
        sk.probes_out = 0
        tcp_output.tcp_push_pending_frames(sk)
        return
    limit = sysctl.sysctl("net.ipv4.tcp_retries2")
    if sock_flag(sk, SOCK_DEAD):
        limit = sysctl.sysctl("net.ipv4.tcp_orphan_retries") or TCP_ORPHAN_RETRIES
    if sk.probes_out >= limit:
        XMIB.TCPAbortOnTimeout += 1
        tcp_write_err(sk)
        return
    XMIB.TCPWinProbe += 1
    tcp_output.tcp_xmit_probe_skb(sk)
    sk.probes_out += 1
    if sk.backoff < 10:
        sk.backoff += 1
    _rearm(sk)


def tcp_write_timer(sk):
    """tcp_retransmit_timer: RFC 6298 5.4-5.6 -- back off, collapse the window
    to one segment and resend from snd_una (go-back-N; no SACK here)."""
    st = sk.sk_state
    if st == TCP_CLOSE or st == TCP_LISTEN or sk.sk_dst is None:
        return
    if sk.probe_mode and sk.snd_una == sk.snd_max:
        tcp_probe_timer(sk)
        return
    sk.probe_mode = 0
    if sk.snd_una == sk.snd_max:
        return
    if st == TCP_SYN_SENT:
        limit = sk.syn_retries or sysctl.sysctl("net.ipv4.tcp_syn_retries")
    elif sock_flag(sk, SOCK_DEAD):
        limit = sysctl.sysctl("net.ipv4.tcp_orphan_retries") or TCP_ORPHAN_RETRIES
    else:
        limit = sysctl.sysctl("net.ipv4.tcp_retries2")
    if sk.retransmits >= limit:
        if st != TCP_SYN_SENT:
            XMIB.TCPAbortOnTimeout += 1
        tcp_write_err(sk)
        return
    XMIB.TCPTimeouts += 1
    sk.retransmits += 1
    if sk.backoff < 10:
        sk.backoff += 1
    sk.rtt_seq = 0
    if st == TCP_SYN_SENT:
        tcp_output.tcp_retransmit_head(sk)
    else:
        mss = sk.mss_cache
        flight = (sk.snd_max - sk.snd_una) // mss
        sk.snd_ssthresh = flight >> 1 if flight > 4 else 2
        sk.snd_cwnd = 1
        sk.snd_cwnd_cnt = 0
        sk.in_recovery = 0
        sk.dup_acks = 0
        sk.high_seq = sk.snd_max
        sk.snd_nxt = sk.snd_una
        XMIB.TCPSlowStartRetrans += 1
        tcp_output.tcp_write_xmit(sk)
    _rearm(sk)


def tcp_delack_timer(sk):
    if sk.ack_pending and sk.sk_dst is not None and sk.sk_state != TCP_CLOSE:
        sk.pingpong = 0  # delayed ACK missed: no reply to ride on, leave pingpong mode
        XMIB.DelayedACKs += 1
        tcp_output.tcp_send_ack(sk)


def tcp_keepalive_timer(sk):
    """Keepalive probes after idle time; an orphan's FIN_WAIT2 runs out here."""
    st = sk.sk_state
    if st == TCP_FIN_WAIT2 and sock_flag(sk, SOCK_DEAD):
        tcp_output.tcp_send_active_reset(sk)
        _tcp().tcp_done(sk)
        return
    if not sock_flag(sk, SOCK_KEEPOPEN) or (st != TCP_ESTABLISHED and st != TCP_CLOSE_WAIT):
        return
    t = _tcp()
    when = t.keepalive_time_when(sk) * HZ
    intvl = (sk.keepalive_intvl or sysctl.sysctl("net.ipv4.tcp_keepalive_intvl")) * HZ
    if sk.snd_una != sk.snd_max or sk.write_seq != sk.snd_nxt:
        timer.mod_timer_in(sk.ka_timer, when)  # data in flight: the RTO watches it
        return
    idle = ktime.clock.diff(ktime.clock.now_ms(), sk.rcv_tstamp)
    if idle >= when:
        probes = sk.keepalive_probes or sysctl.sysctl("net.ipv4.tcp_keepalive_probes")
        if sk.probes_out >= probes:
            XMIB.TCPAbortOnTimeout += 1
            tcp_write_err(sk)
            return
        tcp_output.tcp_xmit_probe_skb(sk)
        XMIB.TCPKeepAlive += 1
        sk.probes_out += 1
        timer.mod_timer_in(sk.ka_timer, intvl)
    else:
        timer.mod_timer_in(sk.ka_timer, when - idle)
