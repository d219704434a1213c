# TCP memory as Linux accounts it, against a scripted peer in simulated time:
# chunks of the shared pool charged to sk_rmem_alloc / sk_wmem_queued only while
# they hold data, tcp_mem's min/pressure/max (window clamp, ofo prune, sender
# EAGAIN, SYNs refused), /proc/net/sockstat, and the heap back to its baseline.
import gc
from ksock import sys as K
from ksock import socket as S
from ksock.net.core import sk_mem, sysctl
from ksock.net.ipv4 import tcp_ipv4
from ksock.net.ipv4.proc import tcpext as X
from ksock.testing.tcpscript import *

world()
CH = sk_mem.CHUNK
DEFAULT_MEM = sysctl.sysctl("net.ipv4.tcp_mem")
BOARD = sysctl.sysctl("net.ipv4.tcp_rmem")[1] < 8 * CH


def established(port, **kw):
    """tcpscript's established(), with rings of several chunks on a board too
    (its default rings are one chunk each)."""
    import ksock.testing.tcpscript as ts
    if not BOARD:
        return ts.established(port, **kw)
    r, w = sysctl.sysctl("net.ipv4.tcp_rmem"), sysctl.sysctl("net.ipv4.tcp_wmem")
    K.sysctl("net.ipv4.tcp_rmem", (r[0], 8 * CH, 8 * CH))
    K.sysctl("net.ipv4.tcp_wmem", (w[0], 4 * CH, 4 * CH))
    try:
        return ts.established(port, **kw)
    finally:
        K.sysctl("net.ipv4.tcp_rmem", r)
        K.sysctl("net.ipv4.tcp_wmem", w)


def tcp_mem(v):
    K.sysctl("net.ipv4.tcp_mem", v)


def sockstat_tcp_mem():
    line = [l for l in tcp_ipv4.proc_net_sockstat().split("\n") if l.startswith("TCP:")][0]
    return int(line.split()[-1])


_rb = bytearray(512)  # reads in small pieces: a board's heap may have no free 2 KB block
_pb = bytearray(1460)  # the peer's payloads, made once: the test, not the stack, must not need fresh KBs


def pay(ch, n):
    for i in range(n):
        _pb[i] = ch[0]
    return memoryview(_pb)[:n]


def read_all(fd, n, ch):
    """Read exactly n bytes, each of them `ch`."""
    got = 0
    while got < n:
        k = K.recvmsg_into(fd, [memoryview(_rb)[:min(512, n - got)]])[0]
        assert k > 0 and _rb[:k] == ch * k, (got, k)
        got += k


def send_all(fd, n, ch=b"\0"):
    """Queue up to n bytes of `ch` without blocking; the count queued."""
    _rb[:] = ch * 512
    done = 0
    while done < n:
        try:
            done += K.send(fd, memoryview(_rb)[:min(512, n - done)], K.MSG_DONTWAIT)
        except OSError as e:
            if e.args[0] != 11:
                raise
            break
    return done


def segs(p):
    out = []
    while True:
        s = p.recv()
        if s is None:
            return out
        out.append(s)


def drain(p):
    out = segs(p)
    return out[-1] if out else None


def test_established_idle_holds_no_chunk():
    fresh()
    p, fd = established(3001)
    sk = sk_of(fd)
    assert sk.sk_rmem_alloc == 0 and sk.sk_wmem_queued == 0
    assert sk_mem.tcp_memory.allocated == 0
    assert sk.rcv_size > CH  # the logical window is still the whole buffer
    p.expect_none()


def test_established_data_charged_in_chunks_returned_after_read():
    fresh()
    p, fd = established(3002)
    sk = sk_of(fd)
    p.send(ACK, 1001, 1, data=pay(b"a", 1400))
    p.send(ACK, 2401, 1, data=pay(b"b", 1400))  # 2800 bytes: two chunks
    assert sk.sk_rmem_alloc == 2 * CH
    assert sk_mem.tcp_memory.allocated == 2
    assert sockstat_tcp_mem() == sk_mem.pages(2)
    read_all(fd, 1000, b"a")
    assert sk.sk_rmem_alloc == 2 * CH  # both chunks still hold unread bytes
    read_all(fd, 400, b"a")
    read_all(fd, 1100, b"b")
    assert sk.sk_rmem_alloc == CH  # the first chunk is read out: back to the pool
    read_all(fd, 300, b"b")
    assert sk.sk_rmem_alloc == 0 and sk_mem.tcp_memory.allocated == 0
    assert sockstat_tcp_mem() == 0


def test_established_send_chunks_freed_when_acked():
    fresh()
    p, fd = established(3003)
    sk = sk_of(fd)
    K.setsockopt(fd, K.SOL_TCP, 1, 1)  # TCP_NODELAY
    assert send_all(fd, 3000, b"x") == 3000
    assert sk.sk_wmem_queued == 2 * CH
    assert sum(len(s.data) for s in segs(p)) == 3000
    p.send(ACK, 1001, 1025)
    assert sk.sk_wmem_queued == 2 * CH  # chunk 0 still holds unacked bytes 1024..2047
    p.send(ACK, 1001, 2049)
    assert sk.sk_wmem_queued == CH  # chunk 0 all acked: back to the pool
    p.send(ACK, 1001, 3001)
    assert sk.sk_wmem_queued == 0 and sk_mem.tcp_memory.allocated == 0


def test_established_ofo_chunks_pruned_when_budget_exceeded():
    fresh()
    p, fd = established(3004)
    sk = sk_of(fd)
    pc, op, mp = X.PruneCalled, X.OfoPruned, X.TCPMemoryPressures
    tcp_mem((1, 1, 2))  # pages: two chunks fit under min, four is max
    try:
        p.send(ACK, 1001 + 2 * CH, 1, data=pay(b"c", 1000))  # out of order: chunk 2
        p.send(ACK, 1001 + 3 * CH, 1, data=pay(b"d", 1000))  # out of order: chunk 3
        assert sk.sk_rmem_alloc == 2 * CH and len(sk.ofo) == 2
        drain(p)
        p.send(ACK, 1001, 1, data=pay(b"a", 1000))  # in order: no memory but by pruning the ofo queue
        assert X.PruneCalled == pc + 1 and X.OfoPruned == op + 1, (X.PruneCalled - pc, X.OfoPruned - op)
        assert X.TCPMemoryPressures == mp + 1, X.TCPMemoryPressures - mp
        # the highest range went; then the budget was under min again: pruning stops
        assert sk.ofo == [[1001 + 2 * CH, 2001 + 2 * CH]] and sk.sk_rmem_alloc == 2 * CH, sk.ofo
        s = drain(p)
        assert s.ack == 2001, s
        read_all(fd, 1000, b"a")
        assert sk.sk_rmem_alloc == CH  # the out-of-order chunk kept
    finally:
        tcp_mem(DEFAULT_MEM)


def test_established_segment_over_budget_dropped_tcprcvqdrop_then_resent():
    fresh()
    p, fd = established(3005)
    sk = sk_of(fd)
    tcp_mem((1, 1, 1))
    try:
        for i in range(4):  # 2 chunks: 1 page, still min
            p.send(ACK, 1001 + i * CH // 2, 1, data=(b"a" if i < 2 else b"b") * (CH // 2))
        d = X.TCPRcvQDrop
        p.send(ACK, 1001 + 2 * CH, 1, data=pay(b"c", 1000))  # over max: dropped, ACKed at once
        assert X.TCPRcvQDrop == d + 1
        s = drain(p)
        assert s.ack == 1001 + 2 * CH, s
        read_all(fd, CH, b"a")
        read_all(fd, CH, b"b")
        p.send(ACK, 1001 + 2 * CH, 1, data=pay(b"c", 1000))  # the retransmission is stored
        read_all(fd, 1000, b"c")
        assert sk.sk_rmem_alloc == 0
    finally:
        tcp_mem(DEFAULT_MEM)


def test_established_memory_pressure_window_stops_growing_never_shrinks():
    fresh()
    p, fd = established(3006)
    sk = sk_of(fd)
    if sk.rcv_size < 16 * sk.advmss:
        skip("a ring of fewer than 16 MSS (board defaults) shows no 4-MSS clamp")
    tcp_mem((1, 1, 4096))  # pressure from the third chunk on, max far away
    try:
        seq = 1001
        edges = []
        for i in range(30):  # 42 KB unread: more than half the 64 KB ring
            p.send(ACK, seq, 1, data=pay(b"w", 1400))
            seq += 1400
            for s in segs(p):
                edges.append(s.ack + s.win)
        assert sk_mem.tcp_memory.pressure
        assert sk.rcv_ssthresh == 4 * sk.advmss  # tcp_adjust_rcv_ssthresh
        assert edges and all(edges[i] <= edges[i + 1] for i in range(len(edges) - 1)), edges
        top = edges[-1]
        got = 0
        while got < seq - 1001:
            got += K.recvmsg_into(fd, [_rb])[0]  # reading frees chunks; the window stays clamped
        advance(40)
        for s in segs(p):
            assert s.ack + s.win >= top  # RFC 7323: the right edge never moves left
            assert s.win <= 4 * sk.advmss or s.ack + s.win == top
    finally:
        tcp_mem(DEFAULT_MEM)


def test_established_sender_at_budget_eagain_then_acked_room():
    fresh()
    p, fd = established(3007)
    sk = sk_of(fd)
    tcp_mem((1, 1, 2))
    K.setsockopt(fd, K.SOL_TCP, 1, 1)  # TCP_NODELAY: everything queued goes out
    try:
        n = send_all(fd, 3 * CH)
        assert n == sk.sk_wmem_queued and 0 < n < 3 * CH, (n, sk.sk_wmem_queued)
        try:
            K.send(fd, b"s" * 100, K.MSG_DONTWAIT)
            raise AssertionError("send past the budget did not fail")
        except OSError as e:
            assert e.args[0] == 11, e  # EAGAIN
        advance(40)
        drain(p)
        p.send(ACK, 1001, 1 + n, win=65535)
        assert sk.sk_wmem_queued == 0
        assert K.send(fd, b"t" * 100, K.MSG_DONTWAIT) == 100
    finally:
        tcp_mem(DEFAULT_MEM)


def test_listen_syn_beyond_budget_dropped_listendrops_then_accepted():
    fresh()
    held = []
    for port in (3011, 3012):  # two connections, each a chunk unread and a chunk unacked
        p0, fd0 = established(port)
        p0.send(ACK, 1001, 1, data=pay(b"h", 1024))
        K.send(fd0, b"u" * 1024)
        held.append(fd0)
    assert sk_mem.pages(sk_mem.tcp_memory.allocated) >= 2
    lfd = listen(3008)
    d = X.ListenDrops
    tcp_mem((1, 1, 1))  # TCP memory now over max (tcp_out_of_memory)
    try:
        p = peer(3008)
        p.send(SYN, 1000, mss=1460)
        p.expect_none()  # no SYN-ACK: the peer's connect() retries, then times out
        assert X.ListenDrops == d + 1
        for fd0 in held:
            read_all(fd0, 1024, b"h")  # the existing connections still work
    finally:
        tcp_mem(DEFAULT_MEM)
    p.send(SYN, 1000, mss=1460)  # the peer's retransmitted SYN now gets its SYN-ACK
    p.expect(SYN | ACK, ack=1001)
    p.send(ACK, 1001, 1)
    fd = K.accept(lfd)[0]
    assert sk_of(fd).sk_state == 1


def test_sockstat_linux_lines():
    fresh()
    p, fd = established(3009)
    p.send(ACK, 1001, 1, data=pay(b"z", 100))
    lines = tcp_ipv4.proc_net_sockstat().split("\n")
    assert lines[0].startswith("sockets: used ")
    t = lines[1].split()
    assert t[0] == "TCP:" and [t[1], t[3], t[5], t[7], t[9]] == ["inuse", "orphan", "tw", "alloc", "mem"], t
    assert int(t[10]) == sk_mem.pages(sk_mem.tcp_memory.allocated) >= 1
    u = lines[2].split()
    assert u[0] == "UDP:" and u[1] == "inuse" and u[3] == "mem", u


def test_dropin_recv_large_n_allocates_what_it_returns():
    fresh()
    p, fd = established(3010)
    s = S.socket(fileno=K.dup(fd))
    p.send(ACK, 1001, 1, data=pay(b"q", 100))
    s.recv(1)  # the first call may set up lazily
    gc.collect()
    gc.disable()
    try:
        m0 = gc.mem_alloc()
        data = s.recv(16384)
        m1 = gc.mem_alloc()
    finally:
        gc.enable()
    assert data == b"q" * 99
    assert m1 - m0 < 2048, m1 - m0  # not a 16 KB buffer
    s.close()


def _cycle(n, port):
    peers = []
    lfd = listen(port, 16)
    fds = []
    for i in range(n):
        p = peer(port)
        p.send(SYN, 1000, mss=1460)
        p.expect(SYN | ACK, ack=1001)
        p.send(ACK, 1001, 1)
        fd = K.accept(lfd)[0]
        p.send(ACK, 1001, 1, data=pay(b"r", 1000))
        p.send(ACK, 2001, 1, data=pay(b"r", 1000))
        K.setsockopt(fd, K.SOL_TCP, 1, 1)
        K.send(fd, b"e" * 500)
        segs(p)  # the wire (ScriptDev's queue) holds no frames across connections
        peers.append(p)
        fds.append(fd)
    assert sk_mem.tcp_memory.allocated >= n
    for fd, p in zip(fds, peers):
        read_all(fd, 2000, b"r")
        K.close(fd)
    K.close(lfd)
    fresh()


def test_connections_closed_heap_pool_sockstat_back_to_baseline():
    fresh()
    n = 2 if BOARD else 6
    _cycle(n, 3020)  # warm: port tables, the pool's free list, the ofo lists
    gc.collect()
    h0 = gc.mem_alloc()
    pool0 = sk_mem.pool_stats()
    _cycle(n, 3021)
    gc.collect()
    h1 = gc.mem_alloc()
    assert sk_mem.tcp_memory.allocated == 0 and sockstat_tcp_mem() == 0
    assert sk_mem.tcp_memory.sockets == 0
    assert sk_mem.pool_stats() == pool0, (sk_mem.pool_stats(), pool0)
    assert pool0[0] <= sk_mem.POOL_KEEP
    assert h1 - h0 < 1024, (h0, h1)


# ---- allocation failures: fail the N-th allocation of an exchange, for every N ----
# (ksock.kernel.fault_inject, Linux's fail-nth: skbs, pool chunks, ring slot
# tables, timers, socks, request socks, children)
from ksock.kernel import fault_inject as FI
from ksock.net.ipv4 import tcp as T

# what a socket call may answer when an allocation failed somewhere in the
# exchange: EAGAIN ENOMEM EPIPE ECONNRESET ENOBUFS ENOTCONN ETIMEDOUT
# ECONNREFUSED EINPROGRESS -- never a MemoryError
CLEAN = (11, 12, 32, 104, 105, 107, 110, 111, 115)
XN = 3000  # bytes each way: more than one chunk of the pool
SETTLE_MS = (sysctl.sysctl("net.ipv4.tcp_fin_timeout") + 5) * 1000


def _call(f, *a):
    """f(*a), or -errno of its OSError (one of CLEAN); any other exception fails the test."""
    try:
        return f(*a)
    except OSError as e:
        assert e.args[0] in CLEAN, e.args[0]
        return -e.args[0]


def _so_error(fd):
    return K.getsockopt(fd, K.SOL_SOCKET, K.SO_ERROR)


def _xfer(src, dst, salt):
    """XN bytes src -> dst in simulated time; True when every byte came in order."""
    sent = got = 0
    for _ in range(400):
        if sent < XN:
            k = min(512, XN - sent)
            for i in range(k):
                _pb[i] = (sent + i + salt) & 0xFF
            r = _call(K.send, src, memoryview(_pb)[:k])
            if r is None or (r < 0 and r != -11):
                return False
            if r > 0:
                sent += r
        r = _call(K.recvmsg_into, dst, [memoryview(_rb)[:512]])
        if isinstance(r, tuple):
            k = r[0]
            if k == 0:
                return False  # EOF before the end: the peer gave up (cleanly)
            for i in range(k):
                assert _rb[i] == (got + i + salt) & 0xFF, (got, i)
            got += k
            if got == XN:
                return True
            continue
        if r != -11:
            return False
        if _so_error(src) or _so_error(dst):
            return False
        advance(50)
    return False


def _lo_exchange(lfd, port):
    """connect to lfd over lo, XN bytes each way, close both ends, then let
    the stack finish (retransmissions, orphans). True when all of it went through."""
    c = _call(K.socket, 2, 1 | K.SOCK_NONBLOCK)
    if c < 0:
        return False
    s = -1
    ok = False
    r = _call(K.connect, c, ("127.0.0.1", port))
    if r is None or r == -115:
        for _ in range(120):
            a = _call(K.accept4, lfd, K.SOCK_NONBLOCK)
            if isinstance(a, tuple):
                s = a[0]
                break
            if _so_error(c):
                break
            advance(100)
    if s >= 0:
        ok = _xfer(c, s, 1) and _xfer(s, c, 7)
    _call(K.close, c)
    if s >= 0:
        _call(K.close, s)
    # lost FINs and SYN-ACKs come again; an orphan whose peer's last FIN or RST
    # was lost ends at tcp_fin_timeout (60 s), as in Linux
    advance(SETTLE_MS)
    while True:  # a child whose client gave up before accept(): closed, as a server would
        a = _call(K.accept4, lfd, K.SOCK_NONBLOCK)
        if not isinstance(a, tuple):
            break
        _call(K.close, a[0])
        advance(SETTLE_MS)
    return ok


def _left_in_ehash():
    """Socks still in the established hash that are neither TIME_WAIT nor gone."""
    n = 0
    for chain in tcp_ipv4.ehash:
        for e in chain or ():
            if e.sk_state != T.TCP_TIME_WAIT:
                n += 1
    return n


def test_fail_nth_allocation_each_point_of_lo_exchange_clean_errno_no_leak_new_connection_served():
    fresh()
    port = 3100
    lfd = K.socket(2, 1 | K.SOCK_NONBLOCK)
    K.bind(lfd, ("127.0.0.1", port))
    K.listen(lfd, 8)
    assert _lo_exchange(lfd, port)  # warm, and the exchange works at all
    fresh_lo = _left_in_ehash()
    FI.arm(1 << 29)
    assert _lo_exchange(lfd, port)
    points = FI.disarm()
    assert points >= 10, points  # skbs, chunks, rings, timers, socks all counted
    survived = 0
    # the emulated RP2040 runs at about 1/3 real time: every 5th point there
    # (the whole walk runs on unix, unix-nocmod and QEMU)
    step = 5 if TARGET.startswith("rp2js") else 1
    for nth in range(1, points + 1, step):
        FI.arm(nth)
        if _lo_exchange(lfd, port):
            survived += 1
        met = FI.disarm()
        assert met >= nth, (nth, met)  # the N-th point was reached (and failed)
        assert _left_in_ehash() == fresh_lo, nth  # no connection left hanging
        assert _lo_exchange(lfd, port), nth  # the stack serves a new connection
    K.close(lfd)
    fresh()
    assert sk_mem.tcp_memory.allocated == 0 and sk_mem.tcp_memory.sockets == 0
    assert survived < (points + step - 1) // step  # some failures did end a connection (cleanly)
