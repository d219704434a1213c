# net/ipv4/tcp_minisocks.c: the small socks of a connection's edges -- request
# socks in the SYN queue (tcp_check_req turns one into a child on the final
# ACK), syncookie children, and TIME_WAIT socks that keep the 4-tuple after
# the real sock is gone (inet_timewait_sock).
from ksock.compat import const
from ksock.kernel import time as ktime
from ksock.kernel import timer
from ksock.net.core import sysctl, sk_mem
from ksock.kernel import fault_inject
from ksock.net.core.sock import sk_acceptq_is_full, sock_flag, SOCK_KEEPOPEN, HZ
from ksock.net.ipv4 import inet_hashtables as ih
from ksock.net.ipv4 import inet_timewait_sock as itw
from ksock.net.ipv4 import request_sock as rq
from ksock.net.ipv4 import tcp, tcp_output, tcp_timer, syncookies
from ksock.net.ipv4.proc import tcp as MIB, tcpext as XMIB
from ksock.wire import tcp as wtcp
from ksock.wire import ipv4 as wip

_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_ACK = const(0x10)
TCP_RTO_MAX = const(120000)

# Fields a child copies from its listener (sk_clone_lock copies the whole sock).
_INHERIT = ("sk_rcvbuf", "sk_sndbuf", "sk_userlocks", "sk_reuse", "sk_reuseport", "sk_flags",
            "sk_bound_dev_if", "sk_priority", "sk_rcvlowat", "sk_lingertime", "sk_rcvtimeo",
            "sk_sndtimeo", "sk_uid", "nonagle", "user_mss", "keepalive_time", "keepalive_intvl",
            "keepalive_probes", "linger2", "uc_ttl", "tos")


class _ops:
    """The calls this file makes up into tcp_ipv4 (the established hash, resets,
    the listener's SYN handling) and tcp_input (a child's first segment), as
    Linux's icsk_af_ops / rsk_ops: those files fill them at import, so this
    file imports neither (DESIGN, style 13)."""
    ehash_insert = ehash_remove = send_reset = conn_request = None
    rcv_state_process = rtt_estimator = None


ops = _ops()


def tcp_v4_send_synack(req):
    ws = req.rcv_wscale if req.wscale_ok else -1
    return tcp_output.tcp_send_ctl(req.rt, req.inet_rcv_saddr, req.inet_daddr, req.inet_num,
                                   req.inet_dport, req.snt_isn, req.rcv_isn + 1, _SYN | _ACK,
                                   req.rcv_wnd, tcp_output.tcp_advmss(req.rsk_listener, req.rt), ws)


def inet_csk_reqsk_queue_drop(req):
    """Forget a request sock: out of the established hash and the SYN queue."""
    ops.ehash_remove(req)
    timer.del_timer(req.rsk_timer)
    lsk = req.rsk_listener
    if lsk.icsk_accept_queue is not None and req.sk_state == tcp.TCP_NEW_SYN_RECV:
        rq.reqsk_queue_removed(lsk.icsk_accept_queue, req)
    req.sk_state = tcp.TCP_CLOSE


def reqsk_timer_handler(req):
    """SYN-ACK retransmission with exponential backoff, tcp_synack_retries times."""
    lsk = req.rsk_listener
    if lsk.sk_state != tcp.TCP_LISTEN:
        inet_csk_reqsk_queue_drop(req)
        return
    max_retries = sysctl.sysctl("net.ipv4.tcp_synack_retries")
    q = lsk.icsk_accept_queue
    qlen = q.qlen
    if (qlen << 1) > max(8, lsk.sk_max_ack_backlog):
        # half the SYN queue is kept for young requests: when old ones (no
        # final ACK within their first RTO) crowd it, they get fewer retries
        young = q.young << 1
        while max_retries > 2 and qlen >= young:
            max_retries -= 1
            young <<= 1
    XMIB.TCPTimeouts += 1  # tcp_syn_ack_timeout
    if req.num_timeout >= max_retries:
        inet_csk_reqsk_queue_drop(req)
        return
    inet_rtx_syn_ack(req)
    if req.num_timeout == 0:
        q.young -= 1
    req.num_timeout += 1
    timer.mod_timer_in(req.rsk_timer, min(1000 << req.num_timeout, TCP_RTO_MAX))


def inet_rtx_syn_ack(req):
    """tcp_rtx_synack: the SYN-ACK again (timer, or the peer's SYN repeated)."""
    req.num_retrans += 1
    MIB.RetransSegs += 1
    XMIB.TCPSynRetrans += 1
    tcp_v4_send_synack(req)


def tcp_create_openreq_child(lsk, rt, laddr, lport, raddr, rport, irs, iss, mss, wscale_ok,
                             snd_ws, rcv_ws, snd_wnd):
    """A new tcp_sock in SYN_RECV for a request that completed (or a cookie);
    None when the heap has no room for it (sk_clone_lock failing: the caller
    counts ListenDrops and the peer's ACK comes again)."""
    child = None
    try:
        if fault_inject.fail_nth[0] and fault_inject.should_fail():
            raise MemoryError
        child = tcp.tcp_sock()
        if _openreq_init(child, lsk, rt, laddr, lport, raddr, rport, irs, iss, mss, wscale_ok,
                         snd_ws, rcv_ws, snd_wnd):
            MIB.PassiveOpens += 1
            return child
    except MemoryError:
        pass
    if child is not None and child.sk_dst is not None:
        sk_mem.tcp_memory.sockets -= 1  # tcp_connect_init counted it
    return None


def _openreq_init(child, lsk, rt, laddr, lport, raddr, rport, irs, iss, mss, wscale_ok,
                  snd_ws, rcv_ws, snd_wnd):
    if raddr == rt[1]:  # share the route's address objects (a cookie's come from the packet)
        raddr = rt[1]
    if laddr == rt[2]:
        laddr = rt[2]
    for name in _INHERIT:
        v = getattr(lsk, name)
        if v != getattr(tcp.tcp_sock, name):
            setattr(child, name, v)
    child.inet_rcv_saddr = child.inet_saddr = laddr
    child.inet_daddr = raddr
    child.inet_dport = rport
    child.inet_sport = lport
    child.sk_state = tcp.TCP_SYN_RECV
    if tcp_output.tcp_connect_init(child, rt, rcv_ws if wscale_ok else 0):
        return False
    if wscale_ok:  # attributes at their class defaults stay unset (heap per connection)
        child.wscale_ok = wscale_ok
        if snd_ws:
            child.snd_wscale = snd_ws
    child.snd_una = child.snd_nxt = child.snd_max = iss + 1
    child.write_seq = child.snd_base = iss + 1
    child.rcv_nxt = child.copied_seq = child.rcv_wup = irs + 1
    child.rcv_wnd = child.rcv_size if child.rcv_size < 0xFFFF else 0xFFFF
    child.snd_wnd = snd_wnd
    child.snd_wl1 = irs
    child.max_window = snd_wnd
    m = mss if mss < child.advmss else child.advmss
    child.mss_cache = m if m >= 88 else 88
    tcp_timer.tcp_initialize_rcv_mss(child)
    # (the other timers and the rings come with the first data)
    return not sock_flag(child, SOCK_KEEPOPEN) or tcp_timer.tcp_ka_timer_make(child)


def tcp_v4_syn_recv_sock(lsk, req_or_none, rt, laddr, lport, raddr, rport, irs, iss, mss,
                         wscale_ok, snd_ws, rcv_ws, snd_wnd):
    """The child for a finished handshake, hashed, bound to the listener's port
    and queued for accept(); None with ListenOverflows when accept() is behind."""
    if sk_acceptq_is_full(lsk):
        XMIB.ListenOverflows += 1
        XMIB.ListenDrops += 1
        return None
    child = tcp_create_openreq_child(lsk, rt, laddr, lport, raddr, rport, irs, iss, mss,
                                     wscale_ok, snd_ws, rcv_ws, snd_wnd)
    if child is None:
        XMIB.ListenDrops += 1
        return None
    ih.inet_bind_hash(child, lsk.sk_prot.h, lport)  # __inet_inherit_port
    if child.sk_prot is not lsk.sk_prot:
        child.sk_prot = lsk.sk_prot
    if req_or_none is not None:
        inet_csk_reqsk_queue_drop(req_or_none)
        req = req_or_none
    else:
        req = rq.request_sock(lsk)
    ops.ehash_insert(child)
    req.sk_state = tcp.TCP_SYN_RECV
    rq.reqsk_queue_add(lsk.icsk_accept_queue, req, lsk, child)
    return child


def tcp_child_process(lsk, child, skb, th, hl, flags):
    """The final ACK runs through the child (SYN_RECV -> ESTABLISHED); the
    listener's readers are woken (accept() and poll)."""
    if ops.rcv_state_process(child, skb, th, hl, flags):
        ops.send_reset(skb, th, hl, flags)
    lsk.sk_data_ready(lsk)


def tcp_check_req(req, skb, th, hl, flags):
    """A segment for a request sock (RFC 9293 3.10.7.4 in SYN-RECEIVED), in
    the order of Linux's tcp_check_req."""
    lsk = req.rsk_listener
    buf = skb.buf
    if lsk.sk_state != tcp.TCP_LISTEN:
        inet_csk_reqsk_queue_drop(req)  # the listener closed: as if there were none
        ops.send_reset(skb, th, hl, flags)
        return
    s = req.rcv_isn + 1
    seq = wtcp.unwrap(wtcp.seq(buf, th), s)
    if flags & (_SYN | _RST | _ACK | _FIN) == _SYN and seq == s - 1:
        inet_rtx_syn_ack(req)  # the peer did not hear our SYN-ACK: repeat it
        if timer.timer_pending(req.rsk_timer):  # mod_timer_pending: the timeout restarts
            timer.mod_timer_in(req.rsk_timer, min(1000 << req.num_timeout, TCP_RTO_MAX))
        return
    if flags & _ACK and wtcp.ack_seq(buf, th) != (req.snt_isn + 1) & 0xFFFFFFFF:
        ops.send_reset(skb, th, hl, flags)  # Linux returns the listener, which resets
        return
    end = seq + skb.len - hl + (flags & _FIN) + (1 if flags & _SYN else 0)
    e = s + req.rcv_wnd
    if not (seq == s or (end > s and seq < e) or (seq == e and seq == end)):
        if not flags & _RST:  # tcp_in_window fails: acknowledge and drop
            tcp_output.tcp_send_ctl(req.rt, req.inet_rcv_saddr, req.inet_daddr, req.inet_num,
                                    req.inet_dport, req.snt_isn + 1, s, _ACK, req.rcv_wnd)
        return
    if flags & (_RST | _SYN):
        MIB.AttemptFails += 1  # embryonic reset
        if not flags & _RST:
            ops.send_reset(skb, th, hl, flags)
        inet_csk_reqsk_queue_drop(req)
        XMIB.EmbryonicRsts += 1
        return
    if not flags & _ACK:
        return
    child = tcp_v4_syn_recv_sock(lsk, req, req.rt, req.inet_rcv_saddr, req.inet_num, req.inet_daddr,
                                 req.inet_dport, req.rcv_isn, req.snt_isn, req.mss, req.wscale_ok,
                                 req.snd_wscale, req.rcv_wscale, req.snd_wnd)
    if child is None:
        if sysctl.sysctl("net.ipv4.tcp_abort_on_overflow"):
            inet_csk_reqsk_queue_drop(req)
            XMIB.EmbryonicRsts += 1
            ops.send_reset(skb, th, hl, flags)
        else:
            req.acked = 1  # keep it: the SYN-ACK timer makes the peer ACK again
        return
    if req.num_retrans == 0:  # tcp_synack_rtt_meas: Karn allows a sample from an unrepeated SYN-ACK
        ops.rtt_estimator(child, ktime.clock.diff(ktime.clock.now_ms(), req.snt_synack))
    tcp_child_process(lsk, child, skb, th, hl, flags)


def cookie_v4_check(lsk, skb, th, hl, flags):
    """-1: no cookie could apply; 0: a bad cookie (reset); 1: a child was made."""
    if syncookies.tcp_synq_no_recent_overflow(lsk):
        return -1
    buf = skb.buf
    nh = skb.network_header
    saddr = wip.saddr(buf, nh)
    daddr = wip.daddr(buf, nh)
    sport = (buf[th] << 8) | buf[th + 1]
    dport = (buf[th + 2] << 8) | buf[th + 3]
    seq = wtcp.seq(buf, th)
    ack = wtcp.ack_seq(buf, th)
    mss = syncookies.cookie_v4_check(saddr, daddr, sport, dport, seq, ack)
    if not mss:
        XMIB.SyncookiesFailed += 1
        return 0
    XMIB.SyncookiesRecv += 1
    from ksock.net.ipv4 import ip_output
    rt = ip_output.ip_route_connect(saddr)
    if isinstance(rt, int):
        return 0
    win = (buf[th + 14] << 8) | buf[th + 15]
    child = tcp_v4_syn_recv_sock(lsk, None, rt, daddr, dport, saddr, sport, seq - 1, ack - 1, mss,
                                 0, 0, 0, win)
    if child is None:
        return 1  # accept queue full: dropped, counted
    tcp_child_process(lsk, child, skb, th, hl, flags)
    return 1


# ---- TIME_WAIT ------------------------------------------------------------------------
# The record itself (4-tuple, sequence state, port) is inet_timewait_sock.py's.

def tcp_time_wait(sk, state=tcp.TCP_TIME_WAIT):
    """Enter TIME_WAIT: a tw record takes over the 4-tuple and the port for
    net.ipv4.tcp_timewait_len seconds; the full sock is done (CLOSE)."""
    tmo = sysctl.sysctl("net.ipv4.tcp_timewait_len") * HZ
    if tmo:
        rcv_wnd = tcp_output.tcp_receive_window(sk) >> sk.rcv_wscale
        if itw.inet_twsk_alloc(sk, state, sk.snd_max, sk.rcv_nxt, rcv_wnd, tmo) < 0:
            XMIB.TCPTimeWaitOverflow += 1  # tcp_max_tw_buckets in use, or no memory: plain CLOSE
    ops.ehash_remove(sk)
    tcp.tcp_done(sk)


def inet_twsk_kill(tw):
    itw.inet_twsk_kill(tw)


def tcp_timewait_state_process(tw, skb, th, hl, flags):
    """A segment for a TIME_WAIT record, in the order of Linux's
    tcp_timewait_state_process (no PAWS: ksock sends no timestamps). In
    sequence: a bare ACK restarts the 2MSL timer, an RST ends it (unless
    tcp_rfc1337). A SYN beyond rcv_nxt may reopen the pair through the
    listener (TCP_TW_SYN). Anything else, a repeated FIN or data, is ACKed
    (TCP_TW_ACK), and restarts the timer when it carries an ACK."""
    buf = skb.buf
    rcv_nxt = itw.tw_rcv_nxt(tw)
    seq = wtcp.unwrap(wtcp.seq(buf, th), rcv_nxt)
    end = seq + skb.len - hl + (flags & _FIN) + (1 if flags & _SYN else 0)
    tmo = sysctl.sysctl("net.ipv4.tcp_timewait_len") * HZ
    if seq == rcv_nxt and (end == seq or flags & _RST):
        if not flags & _RST:
            itw.inet_twsk_reschedule(tw, tmo)
        elif not sysctl.sysctl("net.ipv4.tcp_rfc1337"):
            itw.inet_twsk_kill(tw)  # TIME_WAIT assassination (RFC 1337)
        return
    if flags & (_SYN | _RST | _ACK) == _SYN and seq > rcv_nxt:
        lsk = ih.inet_lookup_listener(tcp.tcp_hashinfo, wip.daddr(buf, skb.network_header),
                                      itw.tw_ports(tw)[0])
        if lsk is not None:
            itw.inet_twsk_kill(tw)
            ops.conn_request(lsk, skb, th, hl)
            return
    if flags & _RST:
        return
    if flags & _ACK:
        itw.inet_twsk_reschedule(tw, tmo)
    tcp_v4_timewait_ack(tw)


def tcp_v4_timewait_ack(tw):
    laddr, raddr = itw.tw_addrs(tw)
    lport, rport = itw.tw_ports(tw)
    from ksock.net.ipv4 import ip_output
    rt = ip_output.ip_route(raddr)
    if not isinstance(rt, int):
        tcp_output.tcp_send_ctl(rt, laddr, raddr, lport, rport, itw.tw_snd_nxt(tw), itw.tw_rcv_nxt(tw),
                                _ACK, itw.tw_rcv_wnd(tw))
