# TCP timers and the sender's rules in simulated ms against a scripted peer
# (ksock.testing.tcpscript): RFC 6298 RTO and backoff to tcp_retries2, quick and
# delayed ACK (pingpong, TCP_QUICKACK), zero-window probes, keepalive,
# Nagle/TCP_NODELAY, fast retransmit and NewReno partial ACKs (RFC 6582).
from ksock import sys as K
from ksock.net.ipv4 import tcp as T
from ksock.net.ipv4.proc import tcp as MIB, tcpext as X
from ksock.testing.tcpscript import *

world()


def so_error(fd):
    return int.from_bytes(K.getsockopt(fd, K.SOL_SOCKET, K.SO_ERROR, 4), "little")


def at(t0, ms):
    """Advance to t0 + ms - 1, check silence, then to t0 + ms."""
    advance(t0 + ms - 1 - now())


def test_established_rto_min_200ms_doubling_then_retries2_etimedout():
    fresh()
    K.sysctl("net.ipv4.tcp_retries2", 3)
    try:
        p, fd = established(2001)
        r, to, ab = MIB.RetransSegs, X.TCPTimeouts, X.TCPAbortOnTimeout
        t0 = now()
        K.send(fd, b"data")
        p.expect(ACK | PSH, seq=1, data=b"data")
        for ms in (200, 600, 1400):  # RTO 200 ms (tcp_rto_min), doubling
            at(t0, ms)
            p.expect_none()
            advance(1)
            p.expect(ACK | PSH, seq=1, ack=1001, data=b"data")
        assert MIB.RetransSegs == r + 3 and X.TCPTimeouts == to + 3
        at(t0, 3000)  # the 4th expiry: tcp_retries2 spent -> ETIMEDOUT
        assert sk_of(fd).sk_state == T.TCP_ESTABLISHED
        advance(1)
        p.expect_none()
        assert sk_of(fd).sk_state == T.TCP_CLOSE and so_error(fd) == 110
        assert X.TCPAbortOnTimeout == ab + 1
    finally:
        K.sysctl("net.ipv4.tcp_retries2", 15)


def test_established_rto_ack_resets_backoff():
    fresh()
    p, fd = established(2002)
    K.send(fd, b"a")
    p.expect(ACK | PSH, seq=1, data=b"a")
    advance(200)
    p.expect(ACK | PSH, seq=1, data=b"a")
    p.send(ACK, 1001, 2)
    assert sk_of(fd).backoff == 0
    t0 = now()
    K.send(fd, b"b")
    p.expect(ACK | PSH, seq=2, data=b"b")
    at(t0, 200)
    p.expect_none()
    advance(1)
    p.expect(ACK | PSH, seq=2, data=b"b")


def test_established_ack_after_rto_carries_highest_seq_sent():
    fresh()
    p, fd = established(2018, mss=100)
    K.setsockopt(fd, K.SOL_TCP, K.TCP_NODELAY, 1)
    K.send(fd, b"x" * 300)
    for i in range(3):
        p.expect(ACK | (PSH if i == 2 else 0), seq=1 + 100 * i)
    advance(200)
    p.expect(ACK, seq=1, data=b"x" * 100)  # RTO: resend from snd_una
    p.send(ACK | PSH, 1001, 1, data=b"y")
    advance(40)
    p.expect(ACK, seq=301, ack=1002)  # tcp_acceptable_seq: not the restart point 101


def _no_quickack(fd):
    """TCP_QUICKACK 0: pingpong mode, so data is ACKed by the delayed-ACK rules."""
    K.setsockopt(fd, K.SOL_TCP, 12, (0).to_bytes(4, "little"))


def test_established_quickack_credits_ack_first_segments_at_once_then_delay_40ms():
    fresh()
    p, fd = established(2010)
    sk = sk_of(fd)
    want = sk.rcv_wnd // (2 * sk.rcv_mss) or 2  # tcp_incr_quickack: 2 when 0, at most 16
    want = want if want < 16 else 16
    seq = 1001
    for i in range(want):  # each ACKed in the same batch, no timer
        p.send(ACK | PSH, seq, 1, data=b"x" * 10)
        seq += 10
        p.expect(ACK, seq=1, ack=seq)
    d = X.DelayedACKs
    p.send(ACK | PSH, seq, 1, data=b"y" * 10)  # credits spent: delayed
    advance(39)
    p.expect_none()
    advance(1)
    p.expect(ACK, seq=1, ack=seq + 10)
    assert X.DelayedACKs == d + 1


def test_established_quickack_again_after_silence_longer_than_rto():
    fresh()
    p, fd = established(2011)
    _no_quickack(fd)  # credits stay, but pingpong hides them
    p.send(ACK | PSH, 1001, 1, data=b"a")
    advance(40)
    p.expect(ACK, seq=1, ack=1002)  # the delayed-ACK timer left pingpong mode
    advance(1100)  # longer than the RTO (1 s before any RTT sample)
    p.send(ACK | PSH, 1002, 1, data=b"b")
    p.expect(ACK, seq=1, ack=1003)  # at once: the gap earned quick-ACKs again


def test_established_tcp_quickack_option_reads_back_not_pingpong():
    fresh()
    p, fd = established(2012)
    get = lambda: int.from_bytes(K.getsockopt(fd, K.SOL_TCP, 12, 4), "little")
    assert get() == 1
    _no_quickack(fd)
    assert get() == 0
    K.setsockopt(fd, K.SOL_TCP, 12, (1).to_bytes(4, "little"))
    assert get() == 1


def test_established_delayed_ack_40ms():
    fresh()
    p, fd = established(2003)
    _no_quickack(fd)
    d = X.DelayedACKs
    p.send(ACK | PSH, 1001, 1, data=b"x" * 100)
    advance(39)
    p.expect_none()
    advance(1)
    p.expect(ACK, seq=1, ack=1101)
    assert X.DelayedACKs == d + 1


def test_established_two_full_segments_acked_at_once():
    fresh()
    p, fd = established(2004, mss=536)
    _no_quickack(fd)
    p.send(ACK, 1001, 1, data=b"x" * 536)
    p.expect_none()
    p.send(ACK, 1537, 1, data=b"y" * 536)
    p.expect(ACK, seq=1, ack=2073)  # RFC 9293 3.8.6.3 / RFC 5681 4.2: every second full segment


def test_established_reply_within_ato_enters_pingpong_and_ack_rides_on_data():
    fresh()
    p, fd = established(2005)
    p.send(ACK | PSH, 1001, 1, data=b"q")
    p.expect(ACK, seq=1, ack=1002)  # quick-ACK: the first data
    K.send(fd, b"r")  # a reply within the ATO: interactive (tcp_event_data_sent)
    p.expect(ACK | PSH, seq=1, ack=1002, data=b"r")
    p.send(ACK | PSH, 1002, 2, data=b"s")  # the next request: its ACK waits for the reply
    p.expect_none()
    K.send(fd, b"t")
    p.expect(ACK | PSH, seq=2, ack=1003, data=b"t")
    advance(100)
    p.expect_none()  # the pending ACK went out with the data


def test_established_nagle_holds_small_segment_until_ack():
    fresh()
    p, fd = established(2006)
    K.send(fd, b"one")
    p.expect(ACK | PSH, seq=1, data=b"one")
    K.send(fd, b"two")
    K.send(fd, b"three")
    p.expect_none()  # unacked small data in flight: hold (RFC 896)
    p.send(ACK, 1001, 4)
    p.expect(ACK | PSH, seq=4, data=b"twothree")


def test_established_nodelay_pushes_small_segment():
    fresh()
    p, fd = established(2007)
    K.setsockopt(fd, K.SOL_TCP, K.TCP_NODELAY, 1)
    K.send(fd, b"one")
    p.expect(ACK | PSH, seq=1, data=b"one")
    K.send(fd, b"two")
    p.expect(ACK | PSH, seq=4, data=b"two")


def test_established_nodelay_set_pushes_held_data():
    fresh()
    p, fd = established(2008)
    K.send(fd, b"one")
    p.expect(ACK | PSH, seq=1, data=b"one")
    K.send(fd, b"two")
    p.expect_none()
    K.setsockopt(fd, K.SOL_TCP, K.TCP_NODELAY, 1)  # as Linux: setting it pushes
    p.expect(ACK | PSH, seq=4, data=b"two")


def test_established_fast_retransmit_3_dupacks_newreno_partial_ack():
    fresh()
    p, fd = established(2009, mss=100)
    K.setsockopt(fd, K.SOL_TCP, K.TCP_NODELAY, 1)
    K.send(fd, bytes(range(200)) * 3)  # 6 segments of 100
    segs = [p.expect(ACK | (PSH if i == 5 else 0), seq=1 + 100 * i) for i in range(6)]
    p.expect_none()
    fr = X.TCPFastRetrans
    p.send(ACK, 1001, 101)  # seg 1 arrived; 2 and 4 were lost
    for i in range(2):
        p.send(ACK, 1001, 101)
        p.expect_none()
    p.send(ACK, 1001, 101)  # the third duplicate: fast retransmit (RFC 5681 3.2)
    p.expect(ACK, seq=101, data=segs[1].data)
    assert X.TCPFastRetrans == fr + 1
    p.send(ACK, 1001, 301)  # partial ACK: the next hole at once (RFC 6582 3.2 step 5)
    p.expect(ACK, seq=301, data=segs[3].data)
    sk = sk_of(fd)
    assert sk.in_recovery
    p.send(ACK, 1001, 601)  # full ACK: recovery ends, cwnd = ssthresh
    assert not sk.in_recovery and sk.snd_cwnd == sk.snd_ssthresh
    p.expect_none()


def test_established_zero_window_persist_probes_backoff_then_open():
    fresh()
    p, fd = established(2010)
    p.send(ACK, 1001, 1, win=0)
    w = X.TCPWinProbe
    t0 = now()
    K.send(fd, b"blocked")
    p.expect_none()
    for ms in (200, 600, 1400):  # the persist timer, backing off like the RTO
        at(t0, ms)
        p.expect_none()
        advance(1)
        p.expect(ACK, seq=0, ack=1001, data=b"")  # seq snd_una - 1: the peer must answer
        p.send(ACK, 1001, 1, win=0)
    assert X.TCPWinProbe == w + 3
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED
    p.send(ACK, 1001, 1, win=1000)  # the window opens: the data goes
    p.expect(ACK | PSH, seq=1, data=b"blocked")


def test_established_zero_window_answered_probes_never_time_out():
    fresh()
    K.sysctl("net.ipv4.tcp_retries2", 3)
    try:
        p, fd = established(2011)
        p.send(ACK, 1001, 1, win=0)
        K.send(fd, b"z")
        t0 = now()
        for i in range(8):  # Linux: an answered probe resets icsk_probes_out
            s = None
            while s is None:
                advance(100)
                s = p.recv()
            assert s.seq == 0 and not s.data
            p.send(ACK, 1001, 1, win=0)
        assert now() - t0 == 51000  # 200 ms doubling, 8 probes: far past tcp_retries2 (3)
        assert sk_of(fd).sk_state == T.TCP_ESTABLISHED
    finally:
        K.sysctl("net.ipv4.tcp_retries2", 15)


def _keepalive(fd, idle, intvl, cnt):
    K.setsockopt(fd, K.SOL_TCP, K.TCP_KEEPIDLE, idle)
    K.setsockopt(fd, K.SOL_TCP, K.TCP_KEEPINTVL, intvl)
    K.setsockopt(fd, K.SOL_TCP, K.TCP_KEEPCNT, cnt)
    K.setsockopt(fd, K.SOL_SOCKET, K.SO_KEEPALIVE, 1)


def test_established_keepalive_probes_idle_intvl_cnt_etimedout():
    fresh()
    p, fd = established(2012)
    t0 = now()
    _keepalive(fd, 10, 2, 3)
    ka = X.TCPKeepAlive
    for s in (10, 12, 14):
        at(t0, s * 1000)
        p.expect_none()
        advance(1)
        p.expect(ACK, seq=0, ack=1001)  # a keepalive is an old sequence number
    assert X.TCPKeepAlive == ka + 3
    at(t0, 16000)
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED
    advance(1)  # TCP_KEEPCNT probes unanswered: ETIMEDOUT
    assert sk_of(fd).sk_state == T.TCP_CLOSE and so_error(fd) == 110
    p.expect_none()


def test_established_keepalive_answered_probe_restarts_idle():
    fresh()
    p, fd = established(2013)
    _keepalive(fd, 10, 2, 2)
    for i in range(4):  # more answered probes than TCP_KEEPCNT: still alive
        t0 = now()
        advance(10000)
        p.expect(ACK, seq=0, ack=1001)
        p.send(ACK, 1001, 1)
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED
    advance(9000)
    p.expect_none()


def test_established_keepalive_traffic_defers_probe():
    fresh()
    p, fd = established(2014)
    t0 = now()
    _keepalive(fd, 10, 2, 3)
    advance(6000)
    p.send(ACK | PSH, 1001, 1, data=b"hi")  # the peer is alive at 6 s
    advance(40)
    p.expect(ACK, ack=1003)
    at(t0, 16000)
    p.expect_none()
    advance(1)
    p.expect(ACK, seq=0, ack=1003)


def test_fin_wait1_fin_retransmitted_with_backoff():
    fresh()
    p, fd = fin_wait1(2015)
    t0 = now()
    for ms in (200, 600):
        at(t0, ms)
        p.expect_none()
        advance(1)
        p.expect(FIN | ACK, seq=1, ack=1001)
    p.send(ACK, 1001, 2)
    assert sk_of(fd).sk_state == T.TCP_FIN_WAIT2
    advance(5000)
    p.expect_none()


def test_fin_wait2_orphan_times_out_tcp_fin_timeout():
    fresh()
    K.sysctl("net.ipv4.tcp_fin_timeout", 5)
    try:
        p, fd = fin_wait2(2016)
        t0 = now()
        K.close(fd)  # an orphan in FIN_WAIT2 waits tcp_fin_timeout for the FIN
        assert state(p) == T.TCP_FIN_WAIT2
        at(t0, 5000)
        assert state(p) == T.TCP_FIN_WAIT2
        advance(1)
        assert state(p) == 7
    finally:
        K.sysctl("net.ipv4.tcp_fin_timeout", 60)


def test_close_with_unread_data_rst():
    fresh()
    p, fd = established(2017)
    p.send(ACK | PSH, 1001, 1, data=b"unread")
    p.expect(ACK, seq=1, ack=1007)  # quick-ACK of the first data
    a = X.TCPAbortOnClose
    K.close(fd)  # RFC 2525 2.17, as Linux: unread data -> RST, not FIN
    p.expect(RST | ACK, seq=1, ack=1007)
    assert state(p) == 7 and X.TCPAbortOnClose == a + 1
