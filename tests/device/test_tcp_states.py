# RFC 9293 segment arrival state by state, against a scripted peer in simulated
# time (ksock.testing.tcpscript): handshakes, RST and SYN checks (RFC 5961),
# FIN in every state, TIME_WAIT, the listener's SYN and accept queues.
from ksock import sys as K
from ksock.net.ipv4 import tcp as T
from ksock.net.ipv4.proc import tcp as MIB, tcpext as X
from ksock.testing.tcpscript import *

world()


def so_error(fd):
    return int.from_bytes(K.getsockopt(fd, K.SOL_SOCKET, K.SO_ERROR, 4), "little")


def errno_of(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


# ---- LISTEN ---------------------------------------------------------------------------

def test_listen_syn_synack_request_sock_in_syn_recv():
    fresh()
    lfd = listen(1001)
    p = peer(1001)
    p.send(SYN, 1000, mss=1460)
    s = p.expect(SYN | ACK, seq=0, ack=1001, mss=1460)
    assert s.ws == -1  # the peer offered no window scale: none back (RFC 7323 1.3)
    assert state(p) == T.TCP_NEW_SYN_RECV
    p.send(ACK, 1001, 1)
    assert state(p) == T.TCP_ESTABLISHED
    fd, addr = K.accept(lfd)
    assert addr == (PA, p.pport)
    p.expect_none()


def test_listen_ack_rst_with_seq_of_ack():
    fresh()
    listen(1002)
    p = peer(1002)
    p.send(ACK, 5000, 77)  # RFC 9293 3.10.7.2: <SEQ=SEG.ACK><CTL=RST>
    p.expect(RST, seq=77)


def test_listen_rst_ignored():
    fresh()
    listen(1003)
    p = peer(1003)
    p.send(RST, 5000)
    p.expect_none()


def test_closed_port_syn_rst_ack():
    fresh()
    p = peer(1004)
    p.send(SYN, 5000)  # no listener: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    s = p.expect(RST | ACK, ack=5001)


def test_listen_syn_syncookies_forced_then_valid_ack_child():
    fresh()
    K.sysctl("net.ipv4.tcp_syncookies", 2)
    try:
        lfd = listen(1005)
        p = peer(1005)
        x = X.get()
        p.send(SYN, 1000, mss=1460)
        p.expect(SYN | ACK, ack=1001, mss=1460)
        assert state(p) == 7  # no request sock: the cookie is the state
        assert X.SyncookiesSent == x["SyncookiesSent"] + 1
        p.send(ACK, 1001, 1)
        assert X.SyncookiesRecv == x["SyncookiesRecv"] + 1
        fd, addr = K.accept(lfd)
        assert addr == (PA, p.pport) and state(p) == T.TCP_ESTABLISHED
        K.send(fd, b"hi")
        p.expect(ACK | PSH, seq=1, ack=1001, data=b"hi")
    finally:
        K.sysctl("net.ipv4.tcp_syncookies", 1)


def test_listen_syncookie_bad_ack_rst_and_failed_counter():
    fresh()
    K.sysctl("net.ipv4.tcp_syncookies", 2)
    try:
        listen(1006)
        p = peer(1006)
        x = X.get()
        p.send(SYN, 1000)
        p.expect(SYN | ACK, ack=1001, mss=1460)
        p.send(ACK, 1001, 1 + 12345)
        p.expect(RST, seq=1 + 12345)
        assert X.SyncookiesFailed == x["SyncookiesFailed"] + 1 and state(p) == 7
    finally:
        K.sysctl("net.ipv4.tcp_syncookies", 1)


def _complete(lfd, port):
    a = peer(port)
    a.send(SYN, 1000)
    a.expect(SYN | ACK, ack=1001)
    a.send(ACK, 1001, 1)
    return a


def test_listen_accept_queue_full_syn_dropped_listenoverflows():
    fresh()
    lfd = listen(1007, backlog=1)
    for i in range(2):  # sk_acceptq_is_full is ack_backlog > max: backlog 1 queues 2
        _complete(lfd, 1007)
    x = X.get()
    b = peer(1007)
    b.send(SYN, 1000)
    b.expect_none()  # tcp_conn_request: sk_acceptq_is_full -> drop the SYN
    assert X.ListenOverflows == x["ListenOverflows"] + 1
    assert X.ListenDrops == x["ListenDrops"] + 1
    K.accept(lfd)
    b.send(SYN, 1000)  # the client's SYN retransmission is served once there is room
    b.expect(SYN | ACK, ack=1001)


def test_listen_accept_queue_full_final_ack_dropped_then_abort_on_overflow_rst():
    fresh()
    lfd = listen(1008, backlog=2)
    K.setsockopt(lfd, K.SOL_SOCKET, K.SO_RCVBUF, 1024)  # small child rings: 4 children fit the board
    b, c = peer(1008), peer(1008)
    for q in (b, c):
        q.send(SYN, 1000)
        q.expect(SYN | ACK, ack=1001)
    for i in range(3):  # backlog 2 queues 3
        _complete(lfd, 1008)
    x = X.get()
    b.send(ACK, 1001, 1)  # no room: the ACK is dropped, the request kept
    b.expect_none()
    assert X.ListenOverflows == x["ListenOverflows"] + 1 and state(b) == T.TCP_NEW_SYN_RECV, (
        X.ListenOverflows - x["ListenOverflows"], X.ListenDrops - x["ListenDrops"], state(b))
    K.sysctl("net.ipv4.tcp_abort_on_overflow", 1)
    try:
        c.send(ACK, 1001, 1)
        c.expect(RST, seq=1)
        assert state(c) == 7
    finally:
        K.sysctl("net.ipv4.tcp_abort_on_overflow", 0)
    K.accept(lfd)
    d = X.ListenDrops
    b.send(ACK, 1001, 1)  # room again: the kept request completes
    assert state(b) == T.TCP_ESTABLISHED, (state(b), X.ListenDrops - d)


def test_listen_syn_queue_full_syncookie_then_child():
    fresh()
    lfd = listen(1009, backlog=1)
    a, b, c = peer(1009), peer(1009), peer(1009)
    for q in (a, b):  # two requests: the SYN queue is full (qlen > backlog)
        q.send(SYN, 1000)
        q.expect(SYN | ACK, ack=1001)
    x = X.get()
    c.send(SYN, 1000, mss=1460)  # tcp_syncookies=1 (the default): a cookie now
    c.expect(SYN | ACK, ack=1001, mss=1460)
    assert state(c) == 7
    assert X.TCPReqQFullDoCookies == x["TCPReqQFullDoCookies"] + 1
    assert X.SyncookiesSent == x["SyncookiesSent"] + 1
    c.send(ACK, 1001, 1)
    assert state(c) == T.TCP_ESTABLISHED and X.SyncookiesRecv == x["SyncookiesRecv"] + 1
    assert K.accept(lfd)[1] == (PA, c.pport)


def test_listen_syn_burst_one_pass_beyond_accept_queue_dropped_not_cookies():
    fresh()
    lfd = listen(1012, backlog=1)
    K.setsockopt(lfd, K.SOL_SOCKET, K.SO_RCVBUF, 1024)  # small child rings: the board's heap
    ps = [peer(1012) for i in range(4)]
    x = X.get()
    # four SYNs met together, before any final ACK: backlog 1 queues 2 children,
    # so the two unanswered requests fill the accept queue and the rest are
    # dropped, as Linux drops them when the first two are children already
    one_pass(*[(p, SYN, 1000) for p in ps])
    for p in ps[:2]:
        p.expect(SYN | ACK, ack=1001)
    for p in ps[2:]:
        p.expect_none()
        assert state(p) == 7
    assert X.ListenOverflows - x["ListenOverflows"] == 2 and X.ListenDrops - x["ListenDrops"] == 2
    assert X.SyncookiesSent == x["SyncookiesSent"] and X.TCPReqQFullDoCookies == x["TCPReqQFullDoCookies"]
    one_pass(*[(p, ACK, 1001, 1) for p in ps[:2]])
    assert state(ps[0]) == state(ps[1]) == T.TCP_ESTABLISHED
    ps[2].send(SYN, 1000)  # its retry: the accept queue is full now
    ps[2].expect_none()
    assert X.ListenOverflows - x["ListenOverflows"] == 3
    assert K.accept(lfd)[1] == (PA, ps[0].pport)
    ps[2].send(SYN, 1000)  # room again: served
    ps[2].expect(SYN | ACK, ack=1001)
    ps[2].send(ACK, 1001, 1)
    assert state(ps[2]) == T.TCP_ESTABLISHED


def test_listen_syn_burst_one_pass_within_backlog_all_answered():
    fresh()
    lfd = listen(1013, backlog=8)
    ps = [peer(1013) for i in range(3)]
    x = X.get()
    one_pass(*[(p, SYN, 1000) for p in ps])
    for p in ps:
        p.expect(SYN | ACK, ack=1001)
    assert X.ListenOverflows == x["ListenOverflows"]


# ---- SYN_RECV (request sock) --------------------------------------------------------------

def test_syn_recv_synack_retransmit_backoff_then_dropped():
    fresh()
    listen(1010)
    p = peer(1010)
    r = MIB.RetransSegs
    t0 = now()
    p.send(SYN, 1000)
    p.expect(SYN | ACK, ack=1001)
    for at in (1000, 3000, 7000, 15000, 31000):  # TCP_TIMEOUT_INIT << n
        advance(at - (now() - t0) - 1)
        p.expect_none()
        advance(1)
        p.expect(SYN | ACK, seq=0, ack=1001)
    assert MIB.RetransSegs == r + 5
    advance(64000)  # tcp_synack_retries (5) spent: the request is dropped
    p.expect_none()
    assert state(p) == 7


def test_syn_recv_old_requests_crowd_syn_queue_fewer_synack_retries():
    fresh()
    listen(1014, backlog=8)
    ps = [peer(1014) for i in range(5)]  # qlen 5: 2 * 5 > max(8, backlog)
    r, s = MIB.RetransSegs, X.TCPSynRetrans
    t0 = now()
    for i, p in enumerate(ps):  # 10 ms apart: each timer fires alone (recv() drops other tuples)
        advance(i * 10 - (now() - t0))
        p.send(SYN, 1000)
        p.expect(SYN | ACK, ack=1001)
    # reqsk_timer_handler: at 1 s the last requests see few young ones left (4
    # retries, then 3); at 3 s none is young: 2 retries (tcp_synack_retries is
    # 5), so the first is dropped at its 7 s timer after SYN-ACKs at 0, 1 and
    # 3 s; then qlen 4 no longer crowds the queue and the others keep 5 retries
    for at in (1000, 3000, 7000):
        for i, p in enumerate(ps):
            advance(at + i * 10 - (now() - t0))
            if at < 7000 or i:
                p.expect(SYN | ACK, seq=0, ack=1001)
            else:
                p.expect_none()
                assert state(p) == 7
    assert MIB.RetransSegs - r == X.TCPSynRetrans - s == 14 and state(ps[1]) == T.TCP_NEW_SYN_RECV


def test_syn_recv_dup_syn_resends_synack():
    fresh()
    listen(1011)
    p = peer(1011)
    p.send(SYN, 1000)
    p.expect(SYN | ACK, ack=1001)
    p.send(SYN, 1000)
    p.expect(SYN | ACK, seq=0, ack=1001)
    assert state(p) == T.TCP_NEW_SYN_RECV


def test_syn_recv_rst_drops_request_embryonic():
    fresh()
    listen(1012)
    p = peer(1012)
    p.send(SYN, 1000)
    p.expect(SYN | ACK)
    x = X.EmbryonicRsts
    p.send(RST, 1001)
    p.expect_none()
    assert state(p) == 7 and X.EmbryonicRsts == x + 1


def test_syn_recv_bad_ack_rst():
    fresh()
    listen(1013)
    p = peer(1013)
    p.send(SYN, 1000)
    p.expect(SYN | ACK)
    p.send(ACK, 1001, 99)
    p.expect(RST, seq=99)
    assert state(p) == T.TCP_NEW_SYN_RECV  # the request stays (tcp_check_req)


# ---- SYN_SENT -------------------------------------------------------------------------------

def test_syn_sent_synack_established():
    fresh()
    p, fd = syn_sent(1020)
    assert sk_of(fd).sk_state == T.TCP_SYN_SENT
    p.send(SYN | ACK, 1000, 1, mss=1200)
    p.expect(ACK, seq=1, ack=1001)
    sk = sk_of(fd)
    assert sk.sk_state == T.TCP_ESTABLISHED and sk.mss_cache == 1200
    assert errno_of(K.connect, fd, (PA, p.pport)) == 0  # the async connect completed: 0 once
    assert errno_of(K.connect, fd, (PA, p.pport)) == 106  # then EISCONN


def test_syn_sent_rst_good_ack_econnrefused():
    fresh()
    p, fd = syn_sent(1021)
    p.send(RST | ACK, 0, 1)
    p.expect_none()
    assert sk_of(fd).sk_state == T.TCP_CLOSE and so_error(fd) == 111


def test_syn_sent_rst_bad_ack_ignored():
    fresh()
    p, fd = syn_sent(1022)
    p.send(RST | ACK, 0, 5)  # RFC 9293 3.10.7.3: unacceptable ACK, RST: drop it
    p.expect_none()
    assert sk_of(fd).sk_state == T.TCP_SYN_SENT


def test_syn_sent_rst_without_ack_ignored():
    fresh()
    p, fd = syn_sent(1023)
    p.send(RST, 0)
    p.expect_none()
    assert sk_of(fd).sk_state == T.TCP_SYN_SENT


def test_syn_sent_bad_ack_rst():
    fresh()
    p, fd = syn_sent(1024)
    p.send(ACK, 1000, 100)  # <SEQ=SEG.ACK><CTL=RST>
    p.expect(RST, seq=100)
    assert sk_of(fd).sk_state == T.TCP_SYN_SENT


def test_syn_sent_syn_simultaneous_open_syn_recv_then_established():
    fresh()
    p, fd = syn_sent(1025)
    p.send(SYN, 1000, mss=1460)
    p.expect(SYN | ACK, seq=0, ack=1001)
    assert sk_of(fd).sk_state == T.TCP_SYN_RECV
    p.send(ACK, 1001, 1)
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED


def test_syn_sent_syn_retries_etimedout():
    fresh()
    p, fd = syn_sent(1026)
    K.setsockopt(fd, K.SOL_TCP, K.TCP_SYNCNT, 2)
    t0 = now()
    for at in (1000, 3000):
        advance(at - (now() - t0) - 1)
        p.expect_none()
        advance(1)
        p.expect(SYN, seq=0)
    advance(7000 - (now() - t0) - 1)
    assert sk_of(fd).sk_state == T.TCP_SYN_SENT
    advance(1)
    assert sk_of(fd).sk_state == T.TCP_CLOSE and so_error(fd) == 110  # ETIMEDOUT
    p.expect_none()


# ---- ESTABLISHED: sequence, RST and SYN checks ------------------------------------------------

def test_established_out_of_window_segment_dup_ack():
    fresh()
    p, fd = established(1030)
    p.send(ACK, 1001 + 200000, 1, data=b"x")  # beyond the window
    p.expect(ACK, seq=1, ack=1001)
    p.send(ACK, 1001 - 5000, 1, data=b"old")  # wholly before rcv_nxt
    p.expect(ACK, seq=1, ack=1001)
    assert K.recv(fd, 10, K.MSG_DONTWAIT) if False else errno_of(K.recv, fd, 10, K.MSG_DONTWAIT) == 11


def test_established_rst_exact_seq_resets_econnreset():
    fresh()
    p, fd = established(1031)
    e = MIB.EstabResets
    p.send(RST, 1001)
    p.expect_none()
    assert sk_of(fd).sk_state == T.TCP_CLOSE and MIB.EstabResets == e + 1
    assert errno_of(K.recv, fd, 10) == 104  # ECONNRESET


def test_established_rst_in_window_not_exact_challenge_ack():
    fresh()
    p, fd = established(1032)
    c = X.TCPChallengeACK
    p.send(RST, 1001 + 100)  # RFC 5961 3.2
    p.expect(ACK, seq=1, ack=1001)
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED and X.TCPChallengeACK == c + 1


def test_established_rst_out_of_window_dropped_silently():
    fresh()
    p, fd = established(1033)
    p.send(RST, 1001 + 300000)
    p.expect_none()
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED


def test_established_syn_challenge_ack():
    fresh()
    p, fd = established(1034, passive=True)
    c, s = X.TCPChallengeACK, X.TCPSYNChallenge
    p.send(SYN, 1001 + 10)  # RFC 5961 4.2: never a reset, a challenge ACK
    p.expect(ACK, seq=1, ack=1001)
    assert X.TCPChallengeACK == c + 1 and X.TCPSYNChallenge == s + 1
    assert sk_of(fd).sk_state == T.TCP_ESTABLISHED


def test_established_ack_of_unsent_data_dropped():
    fresh()
    p, fd = established(1035)
    p.send(ACK | PSH, 1001, 50, data=b"abc")  # acks the future: dropped, data not taken
    assert errno_of(K.recv, fd, 10, K.MSG_DONTWAIT) == 11


def test_established_data_out_of_order_dup_ack_then_reassembly():
    fresh()
    p, fd = established(1036)
    q = X.TCPOFOQueue
    p.send(ACK, 1101, 1, data=b"B" * 100)
    p.expect(ACK, seq=1, ack=1001)  # a duplicate ACK at once for the sender
    p.send(ACK, 1301, 1, data=b"D" * 50)
    p.expect(ACK, seq=1, ack=1001)
    assert X.TCPOFOQueue == q + 2
    assert errno_of(K.recv, fd, 10, K.MSG_DONTWAIT) == 11
    p.send(ACK, 1001, 1, data=b"A" * 100)
    p.expect(ACK, seq=1, ack=1201)  # the hole filled: ACK now, up to the next hole
    p.send(ACK, 1201, 1, data=b"C" * 100)
    p.expect(ACK, seq=1, ack=1351)
    assert K.recv(fd, 1000) == b"A" * 100 + b"B" * 100 + b"C" * 100 + b"D" * 50


def test_established_receive_window_fills_to_zero_then_update_after_read():
    fresh()
    p, fd = established(1038, mss=536)
    size = sk_of(fd).rcv_size
    seq = 1001
    while seq - 1001 < size:
        n = min(536, size - (seq - 1001))
        p.send(ACK, seq, 1, data=b"w" * n)
        seq += n
    advance(40)
    last = None
    while True:
        s = p.recv()
        if s is None:
            break
        last = s
    assert last.ack == seq and last.win == 0, last  # the ring is full: window 0
    z = X.TCPZeroWindowDrop
    p.send(ACK, seq, 1, data=b"!")  # a 1-byte zero-window probe (BSD style): dropped, answered
    p.expect(ACK, ack=seq, win=0)
    assert X.TCPZeroWindowDrop == z + 1
    buf = bytearray(512)  # read in small pieces: a board's heap may have no free 2 KB block
    got = 0
    while got < size:
        got += K.recvmsg_into(fd, [buf])[0]
    assert got == size
    s = p.expect(ACK, seq=1, ack=seq)  # tcp_cleanup_rbuf: the opened window is announced
    assert s.win > 0


def test_established_retransmitted_data_reacked_at_once():
    fresh()
    p, fd = established(1037)
    p.send(ACK, 1001, 1, data=b"x" * 10)
    advance(40)
    p.expect(ACK, ack=1011)
    p.send(ACK, 1001, 1, data=b"x" * 10)
    p.expect(ACK, seq=1, ack=1011)


# ---- FIN in every state ----------------------------------------------------------------

def test_established_fin_close_wait_eof():
    fresh()
    p, fd = close_wait(1040)
    assert sk_of(fd).sk_state == T.TCP_CLOSE_WAIT
    assert K.recv(fd, 10) == b""
    K.send(fd, b"still")  # half-close: we may still send
    p.expect(ACK | PSH, seq=1, ack=1002, data=b"still")


def test_close_wait_fin_retransmitted_reacked():
    fresh()
    p, fd = close_wait(1041)
    p.send(FIN | ACK, 1001, 1)
    p.expect(ACK, seq=1, ack=1002)
    assert sk_of(fd).sk_state == T.TCP_CLOSE_WAIT


def test_last_ack_ack_closed():
    fresh()
    p, fd = last_ack(1042)
    assert sk_of(fd).sk_state == T.TCP_LAST_ACK
    p.send(ACK, 1002, 2)
    assert sk_of(fd).sk_state == T.TCP_CLOSE and state(p) == 7
    p.expect_none()


def test_last_ack_fin_retransmitted_after_rto():
    fresh()
    p, fd = last_ack(1043)
    advance(200)
    p.expect(FIN | ACK, seq=1, ack=1002)
    p.send(ACK, 1002, 2)
    assert sk_of(fd).sk_state == T.TCP_CLOSE


def test_fin_wait1_ack_fin_wait2():
    fresh()
    p, fd = fin_wait1(1044)
    assert sk_of(fd).sk_state == T.TCP_FIN_WAIT1
    p.send(ACK, 1001, 2)
    assert sk_of(fd).sk_state == T.TCP_FIN_WAIT2
    p.expect_none()
    p.send(ACK | PSH, 1001, 2, data=b"late")  # FIN_WAIT2 still receives
    advance(40)
    p.expect(ACK, seq=2, ack=1005)
    assert K.recv(fd, 10) == b"late"


def test_fin_wait1_fin_closing_then_ack_time_wait():
    fresh()
    p, fd = closing(1045)
    assert sk_of(fd).sk_state == T.TCP_CLOSING
    p.send(ACK, 1002, 2)
    assert state(p) == T.TCP_TIME_WAIT


def test_fin_wait1_finack_of_our_fin_time_wait():
    fresh()
    p, fd = fin_wait1(1046)
    p.send(FIN | ACK, 1001, 2)
    p.expect(ACK, seq=2, ack=1002)
    assert state(p) == T.TCP_TIME_WAIT and sk_of(fd).sk_state == T.TCP_CLOSE


def test_fin_wait2_fin_time_wait():
    fresh()
    p, fd = time_wait(1047)
    assert state(p) == T.TCP_TIME_WAIT


def test_closing_fin_retransmitted_reacked():
    fresh()
    p, fd = closing(1048)
    p.send(FIN | ACK, 1001, 1)
    p.expect(ACK, seq=2, ack=1002)
    assert sk_of(fd).sk_state == T.TCP_CLOSING


def test_time_wait_fin_retransmitted_reacked_timer_restarted():
    fresh()
    K.sysctl("net.ipv4.tcp_timewait_len", 10)
    try:
        p, fd = time_wait(1049)
        tw = X.TW
        advance(6000)
        p.send(FIN | ACK, 1001, 2)  # our last ACK was lost: ACK the FIN again
        p.expect(ACK, seq=2, ack=1002)
        advance(9999)  # the 2MSL timer restarted at the FIN
        assert state(p) == T.TCP_TIME_WAIT
        advance(1)
        assert state(p) == 7 and X.TW == tw + 1
    finally:
        K.sysctl("net.ipv4.tcp_timewait_len", 60)


def test_time_wait_rst_kills_without_rfc1337():
    fresh()
    p, fd = time_wait(1050)
    p.send(RST, 1002)
    assert state(p) == 7
    p.expect_none()


def test_time_wait_bind_same_port_eaddrinuse():
    fresh()
    p, fd = time_wait(1051)
    fd2 = K.socket(2, 1)
    assert errno_of(K.bind, fd2, (KA, 1051)) == 98


def test_time_wait_new_syn_higher_seq_reopens_via_listener():
    fresh()
    p, fd = established(1052, passive=True)
    lfd = listen(1052)
    K.shutdown(fd, K.SHUT_WR)
    p.expect(FIN | ACK, seq=1, ack=1001)
    p.send(FIN | ACK, 1001, 2)
    p.expect(ACK, seq=2, ack=1002)
    assert state(p) == T.TCP_TIME_WAIT
    p.send(SYN, 90000)  # beyond rcv_nxt: a new incarnation (RFC 9293 3.6.1 / tcp_timewait_state_process)
    p.expect(SYN | ACK, seq=0, ack=90001)
    assert state(p) == T.TCP_NEW_SYN_RECV
