# net/ipv4/tcp_input.c: segment arrival for a sock with a TCB (RFC 9293
# 3.10.7.3-4), in Linux's order: SYN-SENT handling, sequence check, RST
# (RFC 5961 challenge ACKs), SYN, ACK (window, RTT, NewReno), FIN-ack state
# changes, data into the receive ring (out-of-order ranges kept in place), FIN.
# Returns True when the caller must answer with a reset.
from ksock.compat import const
from ksock.kernel import time as ktime
from ksock.kernel import timer
from ksock.net.core import skbuff, sysctl, sk_mem
from ksock.net.core.sock import sock_flag, sock_set_flag, SOCK_DEAD, SOCK_DONE, SOCK_KEEPOPEN, HZ
from ksock.net.ipv4 import tcp, tcp_output, tcp_minisocks, tcp_timer
from ksock.net.ipv4.proc import tcpext as XMIB
from ksock.wire import tcp as wtcp

_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_ACK = const(0x10)
RCV_SHUTDOWN = const(1)
TCP_ESTABLISHED = const(1)
TCP_SYN_SENT = const(2)
TCP_SYN_RECV = const(3)
TCP_FIN_WAIT1 = const(4)
TCP_FIN_WAIT2 = const(5)
TCP_CLOSE = const(7)
TCP_CLOSE_WAIT = const(8)
TCP_LAST_ACK = const(9)
TCP_CLOSING = const(11)
TCP_RTO_MIN = const(200)
TCP_RTO_MAX = const(120000)
OFO_MAX = const(8)  # out-of-order ranges remembered; more are dropped (TCPOFODrop)


def tcp_rtt_estimator(sk, m):
    """RFC 6298 2.2-2.3 in integer ms (srtt scaled by 8, rttvar by 4); Linux's
    floor: RTO = SRTT + max(4 * RTTVAR, tcp_rto_min)."""
    if sk.srtt8 == 0:
        sk.srtt8 = (m << 3) or 1
        sk.rttvar4 = m << 1
    else:
        d = m - (sk.srtt8 >> 3)
        sk.srtt8 += d
        if d < 0:
            d = -d
        sk.rttvar4 += d - (sk.rttvar4 >> 2)  # (the RTO follows: tcp_output.tcp_rto)


def tcp_send_challenge_ack(sk):
    XMIB.TCPChallengeACK += 1
    tcp_output.tcp_send_ack(sk)


def tcp_fin(sk):
    """The peer's FIN is in order (RFC 9293 3.10.7.4 eighth step)."""
    sk.rcv_nxt += 1
    sk.rcv_fin = 1
    sk.sk_shutdown |= RCV_SHUTDOWN
    sock_set_flag(sk, SOCK_DONE)
    st = sk.sk_state
    if st == TCP_SYN_RECV or st == TCP_ESTABLISHED:
        tcp.tcp_set_state(sk, TCP_CLOSE_WAIT)  # the peer is done sending
    elif st == TCP_FIN_WAIT1:
        tcp.tcp_set_state(sk, TCP_CLOSING)  # simultaneous close: our FIN not yet acked
    elif st == TCP_FIN_WAIT2:
        tcp_output.tcp_send_ack(sk)
        tcp_minisocks.tcp_time_wait(sk)  # both FINs acked: TIME-WAIT
        return
    tcp_output.tcp_send_ack(sk)
    if not sock_flag(sk, SOCK_DEAD):
        sk.sk_state_change(sk)
        sk.sk_data_ready(sk)


def _ring_put(sk, skb, poff, seq, n, inorder):
    """Copy n payload bytes for sequence seq into the receive ring, charging
    chunks for the slots it fills (tcp_try_rmem_schedule, pruning the ofo
    queue when the budget says no). Returns the bytes stored from seq: fewer
    than n when memory ran out, the rest is dropped and the peer resends it.
    The first data makes the ring (and the delayed-ACK timer)."""
    ring = sk.rcv_ring
    if ring is None:
        ring = tcp_timer.tcp_rcv_ring_make(sk)
        if ring is None:
            if inorder:
                XMIB.TCPRcvQDrop += 1
            else:
                XMIB.TCPOFODrop += 1
            return 0
    size = sk.rcv_size
    i = (sk.rcv_head + (seq - sk.copied_seq)) % size
    k = n
    need = sk_mem.ring_missing(ring, size, i, n)
    if need:  # (the common case of a segment landing in chunks held already skips this)
        ok = True
        if tcp_try_rmem_schedule(sk, need, seq) < 0:
            # an empty receive queue is always given memory (sk_forced_mem_schedule)
            ok = inorder and sk.rcv_nxt - sk.rcv_fin == sk.copied_seq
        k = sk_mem.ring_ensure(sk, sk_mem.SK_MEM_RECV, ring, size, i, n, ok)
        if k < n:
            if inorder:
                XMIB.TCPRcvQDrop += 1
            else:
                XMIB.TCPOFODrop += 1
    if k > 0:
        sk_mem.ring_put_skb(ring, size, i, skb, poff, k, skbuff.skb_copy_bits)
    return k


def tcp_try_rmem_schedule(sk, need, seq):
    """0 when `need` chunks may be charged, after pruning if it must; -1 if not."""
    if sk.sk_rmem_alloc > sk.sk_rcvbuf or not sk_mem.sk_rmem_schedule(sk, need):
        if tcp_prune_queue(sk, seq) < 0:
            return -1
        while not sk_mem.sk_rmem_schedule(sk, need):
            if not tcp_prune_ofo_queue(sk, seq):
                return -1
    return 0


def tcp_clamp_window(sk):
    """The socket holds more than its buffer: offer at most 2 MSS from now on."""
    sk.ack_quick = 0
    m = 2 * sk.advmss
    if not sk.rcv_ssthresh or sk.rcv_ssthresh > m:
        sk.rcv_ssthresh = m


def tcp_prune_queue(sk, seq):
    """tcp_prune_queue: clamp the window; the ring needs no collapsing (data
    sits in place, no per-skb overhead); then the ofo queue goes; -1 when the
    socket is still over its buffer (RcvPruned)."""
    XMIB.PruneCalled += 1
    if sk.sk_rmem_alloc >= sk.sk_rcvbuf:
        tcp_clamp_window(sk)
    elif sk_mem.tcp_memory.pressure:
        tcp_output.tcp_adjust_rcv_ssthresh(sk)
    if sk.sk_rmem_alloc <= sk.sk_rcvbuf:
        return 0
    tcp_prune_ofo_queue(sk, seq)
    if sk.sk_rmem_alloc <= sk.sk_rcvbuf:
        return 0
    XMIB.RcvPruned += 1
    return -1


def tcp_prune_ofo_queue(sk, seq):
    """Drop out-of-order ranges from the highest down while they lie above
    the incoming segment (tcp_prune_ofo_queue); their chunks go back. False
    when nothing could be dropped."""
    ofo = sk.ofo
    if not ofo or ofo[-1][0] <= seq:
        return False
    XMIB.OfoPruned += 1
    size = sk.rcv_size
    while ofo and ofo[-1][0] > seq:
        r = ofo.pop()
        if sk.ofo_fin == r[1]:
            sk.ofo_fin = -1
        tcp.tcp_rcv_release(sk, (sk.rcv_head + r[0] - sk.copied_seq) % size, r[1] - r[0])
        if sk_mem.sk_rmem_schedule(sk, 1) and not sk_mem.tcp_memory.pressure:
            break
    return True


def tcp_grow_window(sk):
    """Out of memory pressure the offered window grows back by 2 MSS per
    segment up to the ring (tcp_grow_window)."""
    if sk.rcv_ssthresh and sk.rcv_ssthresh < sk.rcv_size and not sk_mem.tcp_memory.pressure:
        w = sk.rcv_ssthresh + 2 * sk.advmss
        sk.rcv_ssthresh = w if w < sk.rcv_size else sk.rcv_size


def _ofo_fits(sk, s, e):
    """[s, e) can be recorded: a free range entry, or it touches one held."""
    ofo = sk.ofo
    if not ofo or len(ofo) < OFO_MAX:
        return True
    for r in ofo:
        if r[0] <= e and r[1] >= s:
            return True
    return False


def _ofo_insert(sk, s, e):
    """Record [s, e) as held out of order; False when there is no room."""
    ofo = sk.ofo
    if ofo is None:
        ofo = sk.ofo = []
    i = 0
    while i < len(ofo) and ofo[i][1] < s:
        i += 1
    if i < len(ofo) and ofo[i][0] <= e:
        r = ofo[i]
        if s < r[0]:
            r[0] = s
        if e > r[1]:
            r[1] = e
        while i + 1 < len(ofo) and ofo[i + 1][0] <= r[1]:
            if ofo[i + 1][1] > r[1]:
                r[1] = ofo[i + 1][1]
            ofo.pop(i + 1)
        return True
    if len(ofo) >= OFO_MAX:
        return False
    ofo.insert(i, [s, e])
    return True


TCP_MAX_QUICKACKS = const(16)
TCP_ATO_MIN = const(40)


def tcp_incr_quickack(sk):
    """Quick-ACK credits: the segment pairs the window holds (2 when none), at most 16 (tcp_incr_quickack)."""
    q = sk.rcv_wnd // (2 * sk.rcv_mss)
    if q == 0:
        q = 2
    if q > TCP_MAX_QUICKACKS:
        q = TCP_MAX_QUICKACKS
    if q > sk.ack_quick:
        sk.ack_quick = q


def tcp_event_data_recv(sk):
    """In-order data arrived (tcp_event_data_recv): the first data, and data
    after a silence longer than the RTO, earn quick-ACKs so the sender's slow
    start is not held up by 40 ms delayed ACKs."""
    now = sk.rcv_tstamp  # read for this segment's ACK field already (data always carries one)
    if not sk.ack_ato:
        tcp_incr_quickack(sk)
        sk.ack_ato = TCP_ATO_MIN
    elif ktime.clock.diff(now, sk.ack_lrcvtime) > tcp_output.tcp_rto(sk):
        tcp_incr_quickack(sk)
    sk.ack_lrcvtime = now


def tcp_data_queue(sk, skb, poff, seq, n, fin):
    """Payload at skb offset poff, sequence seq, n bytes (+FIN)."""
    nxt = sk.rcv_nxt
    if seq + n < nxt or (seq + n == nxt and not fin):
        if n:  # a retransmission of what we have: the sender lost our ACKs (tcp_enter_quickack_mode)
            tcp_incr_quickack(sk)
            sk.pingpong = 0
        tcp_output.tcp_send_ack(sk)  # re-ACK now
        return
    edge = sk.copied_seq + sk.rcv_size
    if seq + n > edge:
        n = edge - seq
        fin = 0
        if n <= 0:  # no room, even at rcv_nxt (a 1-byte zero-window probe): drop, ACK our window
            XMIB.TCPZeroWindowDrop += 1
            tcp_output.tcp_send_ack(sk)
            return
    if seq <= nxt:
        skip = nxt - seq
        k = n - skip
        dropped = 0
        if k > 0:
            got = _ring_put(sk, skb, poff + skip, nxt, k, True)
            if got < k:
                fin = 0  # the rest (and a FIN after it) comes again
                n = skip + got
                k = got
                dropped = 1
            nxt += k
            if k > 0:
                tcp_grow_window(sk)
            if k > sk.rcv_mss:
                sk.rcv_mss = k if k < sk.advmss else sk.advmss
        filled = 0
        ofo = sk.ofo
        while ofo and ofo[0][0] <= nxt:
            r = ofo.pop(0)
            if r[1] > nxt:
                nxt = r[1]
            filled = 1
        sk.rcv_nxt = nxt
        if k > 0:
            sk.rcv_unacked += k
            tcp_event_data_recv(sk)
        if fin and seq + n == nxt or sk.ofo_fin == nxt:
            sk.ofo_fin = -1
            tcp_fin(sk)  # sends the ACK itself
            return
        if k > 0 and not sock_flag(sk, SOCK_DEAD):
            sk.sk_data_ready(sk)
        if filled or dropped:
            tcp_output.tcp_send_ack(sk)  # a hole filled, or no memory: tell the sender at once
        elif sk.rcv_nxt - sk.rcv_wup >= 2 * sk.rcv_mss:
            tcp_output.tcp_ack_soon(sk)  # two full segments: ACK at the end of this batch
        elif k > 0 and sk.ack_quick and not sk.pingpong:
            tcp_output.tcp_ack_soon(sk)  # quick-ACK mode (tcp_in_quickack_mode)
        elif k > 0:
            tcp_output.tcp_send_delayed_ack(sk)
        return
    # out of order: keep it in place in the ring, ACK at once (dup ACK for the sender)
    XMIB.TCPOFOQueue += 1
    if n > 0 and _ofo_fits(sk, seq, seq + n):
        got = _ring_put(sk, skb, poff, seq, n, False)
        if got > 0:
            _ofo_insert(sk, seq, seq + got)
            if fin and got == n:
                sk.ofo_fin = seq + n
    else:
        XMIB.TCPOFODrop += 1
    tcp_output.tcp_send_ack(sk)


def tcp_fastretrans_dupack(sk):
    """A duplicate ACK: the third starts fast retransmit / NewReno recovery
    (RFC 6582), later ones inflate the window."""
    sk.dup_acks += 1
    if not sk.in_recovery:
        if sk.dup_acks == 3 and sk.snd_una >= sk.high_seq:
            mss = sk.mss_cache
            flight = (sk.snd_max - sk.snd_una) // mss
            sk.snd_ssthresh = flight >> 1 if flight > 4 else 2
            sk.snd_cwnd = sk.snd_ssthresh + 3
            sk.high_seq = sk.snd_max
            sk.in_recovery = 1
            XMIB.TCPFastRetrans += 1
            tcp_output.tcp_retransmit_head(sk)
            tcp_output.tcp_rearm_rto(sk)
    else:
        sk.snd_cwnd += 1
        tcp_output.tcp_write_xmit(sk)


def tcp_ack(sk, ack, seq, win, plen, flags):
    """Process SEG.ACK: -1 drops the segment (acks unsent data), 0 an old or
    duplicate ACK, 1 new data acknowledged."""
    una = sk.snd_una
    if ack > sk.snd_max:
        return -1  # Linux drops it (TCP_ACK_UNSENT_DATA)
    if ack < una:
        if ack < una - sk.max_window:
            tcp_send_challenge_ack(sk)  # RFC 5961 5.2
            return -1
        return 0
    if sk.probes_out:  # (a write only when set: an instance attribute costs heap per connection)
        sk.probes_out = 0  # Linux's tcp_ack: any acceptable ACK (a probe's answer) proves the peer alive
    nwin = win << sk.snd_wscale
    changed = 0
    if ack > una or seq > sk.snd_wl1 or (seq == sk.snd_wl1 and nwin > sk.snd_wnd):
        if nwin != sk.snd_wnd:
            changed = 1
            sk.snd_wnd = nwin
            if nwin > sk.max_window:
                sk.max_window = nwin
        sk.snd_wl1 = seq
    if nwin and sk.probe_mode:
        sk.probe_mode = 0
        sk.probes_out = 0
        sk.backoff = 0
        timer.del_timer(sk.rtx_timer)
    if ack == una:
        if plen == 0 and not flags & _FIN and not changed and sk.snd_max != una:
            tcp_fastretrans_dupack(sk)
        return 0
    # new data acknowledged
    if sk.rtt_seq and ack >= sk.rtt_seq:
        tcp_rtt_estimator(sk, ktime.clock.diff(ktime.clock.now_ms(), sk.rtt_ts))
        sk.rtt_seq = 0
    if sk.backoff:
        sk.backoff = 0
    if sk.retransmits:
        sk.retransmits = 0
    if sk.probes_out:
        sk.probes_out = 0
    end = ack if ack < sk.write_seq else sk.write_seq
    d = end - sk.snd_base
    if d > 0:
        h = sk.snd_head
        sk.snd_head = (h + d) % sk.snd_size
        sk.snd_base = end
        # acked data frees its chunks (tcp_clean_rtx_queue's sk_wmem_free_skb)
        sk_mem.ring_release(sk, sk_mem.SK_MEM_SEND, sk.snd_ring, sk.snd_size, h, d,
                            sk.snd_head, sk.write_seq - end)
    acked = ack - una
    sk.snd_una = ack
    if ack > sk.snd_nxt:
        sk.snd_nxt = ack  # after a go-back-N restart, the peer had more than we resent
    mss = sk.mss_cache
    if sk.in_recovery:
        if ack >= sk.high_seq:
            sk.in_recovery = 0  # full ACK: leave recovery with cwnd = ssthresh
            sk.dup_acks = 0
            sk.snd_cwnd = sk.snd_ssthresh
        else:
            tcp_output.tcp_retransmit_head(sk)  # partial ACK: the next hole
            c = sk.snd_cwnd - acked // mss + 1
            sk.snd_cwnd = c if c > 1 else 1
    else:
        sk.dup_acks = 0
        segs = (acked + mss - 1) // mss
        cw = sk.snd_cwnd
        if cw < sk.snd_ssthresh:
            cw += segs  # slow start (RFC 5681 3.1)
        else:
            sk.snd_cwnd_cnt += segs  # congestion avoidance: +1 per window
            if sk.snd_cwnd_cnt >= cw:
                sk.snd_cwnd_cnt -= cw
                cw += 1
        cap = (sk.snd_size // mss) + 4
        sk.snd_cwnd = cw if cw < cap else (cap if cap > 10 else 10)
    tcp_output.tcp_rearm_rto(sk)
    if not sock_flag(sk, SOCK_DEAD):
        sk.sk_write_space(sk)
    return 1


def _take_syn(sk, buf, th, hl):
    """The peer's SYN in SYN-SENT: its ISN, window (never scaled in a SYN),
    window scale and MSS (clamped by ours and TCP_MAXSEG, at least TCP_MIN_MSS)."""
    seq = wtcp.seq(buf, th)
    mss, ws = wtcp.parse_syn_opts(buf, th, hl)
    if ws < 0:
        if sk.wscale_ok:
            sk.wscale_ok = 0
        if sk.rcv_wscale:
            sk.rcv_wscale = 0
    ws = ws if sk.wscale_ok else 0
    if ws != sk.snd_wscale:
        sk.snd_wscale = ws
    sk.rcv_nxt = sk.copied_seq = sk.rcv_wup = seq + 1
    sk.snd_wnd = sk.max_window = (buf[th + 14] << 8) | buf[th + 15]
    sk.snd_wl1 = seq
    m = mss or 536
    if m > sk.advmss:
        m = sk.advmss
    if sk.user_mss and sk.user_mss < m:
        m = sk.user_mss
    sk.mss_cache = m if m >= 88 else 88
    tcp_timer.tcp_initialize_rcv_mss(sk)


def tcp_keepalive_arm(sk):
    """On reaching ESTABLISHED with SO_KEEPALIVE: the first probe after the idle time."""
    if sock_flag(sk, SOCK_KEEPOPEN) and sk.ka_timer is not None:  # made with the flag
        timer.mod_timer_in(sk.ka_timer, tcp.keepalive_time_when(sk) * HZ)


def tcp_rcv_synsent_state_process(sk, skb, th, hl, flags):
    """RFC 9293 3.10.7.3 SYN-SENT."""
    buf = skb.buf
    if flags & _ACK:
        ack = wtcp.unwrap(wtcp.ack_seq(buf, th), sk.snd_una)
        if ack <= sk.snd_una or ack > sk.snd_max:  # (snd_una is still the ISS)
            return not flags & _RST  # unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>
        if flags & _RST:
            tcp.tcp_reset(sk)  # "error: connection reset" -> ECONNREFUSED
            return False
        if not flags & _SYN:
            return False
        if sk.rtt_seq and not sk.retransmits:
            tcp_rtt_estimator(sk, ktime.clock.diff(ktime.clock.now_ms(), sk.rtt_ts))
        # the handshake's fields go back to their class defaults before the
        # connection's own come in: an instance's attribute table only grows
        for name in ("rtt_seq", "rtt_ts", "backoff", "retransmits"):
            if getattr(sk, name):
                delattr(sk, name)
        timer.del_timer(sk.rtx_timer)
        if sk.snd_ring is None:
            del sk.rtx_timer  # no data yet: the first send makes it again with the ring
        sk.snd_base = sk.snd_una + 1
        _take_syn(sk, buf, th, hl)
        sk.snd_una = ack
        tcp.tcp_set_state(sk, TCP_ESTABLISHED)
        tcp_keepalive_arm(sk)
        tcp_output.tcp_send_ack(sk)
        if not sock_flag(sk, SOCK_DEAD):
            sk.sk_state_change(sk)
            sk.sk_write_space(sk)
        return False
    if flags & _RST:
        return False
    if flags & _SYN:
        # simultaneous open: SYN-RECEIVED, answer SYN-ACK with our ISS
        _take_syn(sk, buf, th, hl)
        tcp.tcp_set_state(sk, TCP_SYN_RECV)
        tcp_output.tcp_transmit(sk, sk.snd_una, 0, _SYN | _ACK)
    return False


def tcp_rcv_state_process(sk, skb, th, hl, flags):
    st = sk.sk_state
    if st == TCP_SYN_SENT:
        return tcp_rcv_synsent_state_process(sk, skb, th, hl, flags)
    if st == TCP_CLOSE or sk.sk_dst is None:
        return not flags & _RST
    buf = skb.buf
    plen = skb.len - hl
    seq = wtcp.unwrap(wtcp.seq(buf, th), sk.rcv_nxt)
    # first: is the segment acceptable (tcp_sequence)?
    end = seq + plen + (flags & _FIN) + (1 if flags & _SYN else 0)
    if end < sk.rcv_wup or seq > sk.rcv_nxt + tcp_output.tcp_receive_window(sk):
        if not flags & _RST:
            if flags & _SYN:
                XMIB.TCPSYNChallenge += 1
                tcp_send_challenge_ack(sk)
            else:
                tcp_output.tcp_send_ack(sk)  # RFC 9293: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
        return False
    # second: RST -- only an exact match resets; in-window ones get a challenge ACK (RFC 5961 3.2)
    if flags & _RST:
        if seq == sk.rcv_nxt:
            tcp.tcp_reset(sk)
        else:
            tcp_send_challenge_ack(sk)
        return False
    # fourth: a SYN in a synchronized state is answered with a challenge ACK (RFC 5961 4.2)
    if flags & _SYN:
        XMIB.TCPSYNChallenge += 1
        tcp_send_challenge_ack(sk)
        return False
    # fifth: ACK
    if not flags & _ACK:
        return False
    sk.rcv_tstamp = ktime.clock.now_ms()
    ack = wtcp.unwrap(wtcp.ack_seq(buf, th), sk.snd_una)
    win = (buf[th + 14] << 8) | buf[th + 15]
    if st == TCP_SYN_RECV:
        if ack <= sk.snd_una - 1 or ack > sk.snd_max:
            return True  # <SEQ=SEG.ACK><CTL=RST>
        tcp.tcp_set_state(sk, TCP_ESTABLISHED)  # SYN-RECEIVED -> ESTABLISHED
        sk.snd_wnd = win << sk.snd_wscale
        sk.snd_wl1 = seq
        if sk.snd_wnd > sk.max_window:
            sk.max_window = sk.snd_wnd
        tcp_keepalive_arm(sk)
        if not sock_flag(sk, SOCK_DEAD):
            sk.sk_state_change(sk)
        st = TCP_ESTABLISHED
    if tcp_ack(sk, ack, seq, win, plen, flags) < 0:
        return False
    fin_acked = sk.fin_queued and sk.snd_una == sk.write_seq + 1
    if st == TCP_FIN_WAIT1 and fin_acked:
        tcp.tcp_set_state(sk, TCP_FIN_WAIT2)  # our FIN is acknowledged
        if not sock_flag(sk, SOCK_DEAD):
            sk.sk_state_change(sk)
        else:  # an orphan waits tcp_fin_timeout for the peer's FIN
            timer.mod_timer_in(sk.ka_timer, (sk.linger2 or sysctl.sysctl("net.ipv4.tcp_fin_timeout")) * HZ)
        st = TCP_FIN_WAIT2
    elif st == TCP_CLOSING and fin_acked:
        tcp_minisocks.tcp_time_wait(sk)  # CLOSING -> TIME-WAIT
        return False
    elif st == TCP_LAST_ACK and fin_acked:
        tcp.tcp_done(sk)  # LAST-ACK -> CLOSED
        return False
    # seventh: segment text, eighth: FIN
    fin = flags & _FIN
    if plen or fin:
        if st == TCP_CLOSE_WAIT or st == TCP_CLOSING or st == TCP_LAST_ACK:
            if seq < sk.rcv_nxt:
                tcp_data_queue(sk, skb, hl, seq, plen, fin)  # old: re-ACK (a lost ACK of their FIN)
        else:
            if (st != TCP_ESTABLISHED and sk.sk_shutdown & RCV_SHUTDOWN and plen
                    and seq + plen > sk.rcv_nxt):
                XMIB.TCPAbortOnData += 1  # data for a socket that can never read it
                tcp.tcp_reset(sk)
                return True
            tcp_data_queue(sk, skb, hl, seq, plen, fin)
    if sk.sk_dst is not None and (sk.write_seq > sk.snd_nxt or sk.fin_queued and sk.snd_nxt == sk.write_seq):
        tcp_output.tcp_write_xmit(sk)
    return False


# tcp_minisocks is below us: a child's first segment comes up through its table
tcp_minisocks.ops.rcv_state_process = tcp_rcv_state_process
tcp_minisocks.ops.rtt_estimator = tcp_rtt_estimator
