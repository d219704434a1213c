# net/unix/af_unix on the target: Linux's errno for each mistake, the
# /proc/net/unix view, and blocking send/recv honouring SO_SNDTIMEO /
# SO_RCVTIMEO in simulated time (partial count, then EAGAIN, as Linux).
import struct
from ksock import sys as K, stack
from ksock.kernel import time as kt, timer
from ksock.net.unix import af_unix

stack.init()
AF_UNIX, STREAM, DGRAM, SEQPACKET = 1, 1, 2, 5
SOL_SOCKET, SO_SNDBUF, SO_RCVTIMEO, SO_SNDTIMEO, SO_ERROR = 1, 7, 20, 21, 4
MSG_DONTWAIT, MSG_NOSIGNAL = 0x40, 0x4000
ENOENT, EAGAIN, EINVAL, EPIPE, ENOTCONN = 2, 11, 22, 32, 107
EADDRINUSE, ECONNREFUSED, EISCONN, EPROTOTYPE, ECONNRESET = 98, 111, 106, 91, 104


def errno_of(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def sim(f):
    old = kt.set_clock(kt.SimClock(0))
    try:
        K.close_range(3)
        f()
    finally:
        kt.set_clock(old)
        K.close_range(3)
        for p in ("ks-ut1", "ks-ut2", "ks-ut3"):
            errno_of(K.unlink, p)


def timeo(fd, opt, ms):
    K.setsockopt(fd, SOL_SOCKET, opt, struct.pack("<qq", ms // 1000, (ms % 1000) * 1000))


def test_connect_errnos():
    def run():
        c = K.socket(AF_UNIX, STREAM)
        assert errno_of(K.connect, c, "ks-no-such") == ENOENT
        assert errno_of(K.connect, c, K.sockaddr_un(b"\x00ks-none")) == ECONNREFUSED
        srv = K.socket(AF_UNIX, STREAM)
        K.bind(srv, "ks-ut1")  # bound, not listening
        assert errno_of(K.connect, c, "ks-ut1") == ECONNREFUSED
        K.listen(srv, 1)
        d = K.socket(AF_UNIX, DGRAM)
        assert errno_of(K.connect, d, "ks-ut1") == EPROTOTYPE  # a dgram socket to a stream name
        assert errno_of(K.connect, c, "ks-ut1") == 0
        assert errno_of(K.connect, c, "ks-ut1") == EISCONN
        K.close(srv)
        c2 = K.socket(AF_UNIX, STREAM)
        assert errno_of(K.connect, c2, "ks-ut1") == ECONNREFUSED  # the name stays until unlinked
    sim(run)


def test_bind_errnos():
    def run():
        a = K.socket(AF_UNIX, STREAM)
        b = K.socket(AF_UNIX, STREAM)
        K.bind(a, "ks-ut2")
        assert errno_of(K.bind, b, "ks-ut2") == EADDRINUSE
        assert errno_of(K.bind, a, "ks-ut3") == EINVAL  # already bound
        K.bind(b, K.sockaddr_un(b"\x00ks-abs"))
        c = K.socket(AF_UNIX, DGRAM)
        assert errno_of(K.bind, c, K.sockaddr_un(b"\x00ks-abs")) == EADDRINUSE
        K.close(b)
        assert errno_of(K.bind, c, K.sockaddr_un(b"\x00ks-abs")) == 0  # abstract names go with the socket
        K.close(a)
        d = K.socket(AF_UNIX, STREAM)
        assert errno_of(K.bind, d, "ks-ut2") == EADDRINUSE  # a path stays until unlinked
        K.unlink("ks-ut2")
        assert errno_of(K.bind, d, "ks-ut2") == 0
        assert errno_of(K.unlink, "ks-ut2") == 0 and errno_of(K.unlink, "ks-ut2") == ENOENT
    sim(run)


def test_unconnected_and_closed_peer_errnos():
    def run():
        s = K.socket(AF_UNIX, STREAM)
        assert errno_of(K.send, s, b"x", MSG_NOSIGNAL) == ENOTCONN
        assert errno_of(K.recv, s, 4) == EINVAL
        assert errno_of(K.shutdown, s, 2) == 0  # unix_shutdown does not ask for a peer
        q = K.socket(AF_UNIX, SEQPACKET)
        assert errno_of(K.send, q, b"x", MSG_NOSIGNAL) == ENOTCONN
        a, b = K.socketpair(AF_UNIX, STREAM)
        K.send(a, b"last")
        K.close(a)
        assert K.recv(b, 10) == b"last"
        assert K.recv(b, 10) == b""
        assert errno_of(K.send, b, b"x", MSG_NOSIGNAL) == EPIPE
        c, d = K.socketpair(AF_UNIX, STREAM)
        K.send(d, b"kept")
        K.close(d)  # d had nothing unread: c reads what d sent, then EOF
        assert K.recv(c, 10) == b"kept" and K.recv(c, 10) == b""
        e, f = K.socketpair(AF_UNIX, STREAM)
        K.send(e, b"lost")
        K.close(f)  # closed with unread data: the peer sees ECONNRESET once
        assert errno_of(K.recv, e, 10) == ECONNRESET
        assert K.recv(e, 10) == b""
        g, h = K.socketpair(AF_UNIX, DGRAM)
        K.close(h)
        assert errno_of(K.send, g, b"x") == ECONNREFUSED
        assert errno_of(K.send, g, b"x") == ENOTCONN
    sim(run)


def test_proc_net_unix_view():
    def run():
        srv = K.socket(AF_UNIX, STREAM)
        K.bind(srv, "ks-ut1")
        K.listen(srv, 2)
        a, b = K.socketpair(AF_UNIX, DGRAM)
        ab = K.socket(AF_UNIX, SEQPACKET)
        K.bind(ab, K.sockaddr_un(b"\x00ks-abs"))
        lines = af_unix.proc_net_unix().split("\n")
        assert lines[0].split() == ["Num", "RefCount", "Protocol", "Flags", "Type", "St", "Inode", "Path"]
        rows = {}
        for ln in lines[1:]:
            f = ln.split()
            rows[f[-1] if len(f) == 8 else int(f[6])] = f
        ino = K.fstat(srv)[1]
        r = rows["ks-ut1"]
        assert r[3:7] == ["00010000", "0001", "01", str(ino)]  # __SO_ACCEPTCON, SOCK_STREAM, SS_UNCONNECTED
        assert rows["@ks-abs"][3:6] == ["00000000", "0005", "01"]
        pa = rows[K.fstat(a)[1]]
        assert pa[4:6] == ["0002", "03"] and len(pa) == 7  # SOCK_DGRAM, SS_CONNECTED, no name
        c = K.socket(AF_UNIX, STREAM)
        K.connect(c, "ks-ut1")
        n = af_unix.proc_net_unix().count("\n")
        K.close(c)
        K.close(a)
        assert af_unix.proc_net_unix().count("\n") < n
    sim(run)


def test_blocking_send_with_sndtimeo_partial_then_eagain():
    def run():
        a, b = K.socketpair(AF_UNIX, STREAM)
        K.setsockopt(a, SOL_SOCKET, SO_SNDBUF, 2048)  # doubled, clamped to SOCK_MIN_SNDBUF as Linux
        sndbuf = K.getsockopt(a, SOL_SOCKET, SO_SNDBUF)
        timeo(a, SO_SNDTIMEO, 200)
        queued = 0
        while True:  # fill the send buffer without blocking
            try:
                queued += K.send(a, bytes(512), MSG_DONTWAIT)
            except OSError as e:
                assert e.args[0] == EAGAIN
                break
        assert 0 < queued <= sndbuf and kt.clock.now_ms() == 0  # (each skb also charges its overhead)
        queued -= len(K.recv(b, 512))  # room for one more chunk, not for all of `big`
        big = bytes(sndbuf // 2 + 700)  # more than one chunk (sndbuf / 2 - 64) of a stream send
        t0 = kt.clock.now_ms()
        n = K.send(a, big)  # a chunk goes, then it blocks until the timeout: the partial count
        assert 0 < n < len(big)
        assert kt.clock.diff(kt.clock.now_ms(), t0) == 200
        t0 = kt.clock.now_ms()
        assert errno_of(K.send, a, b"y") == EAGAIN  # nothing went this time: EAGAIN, after the timeout
        assert kt.clock.diff(kt.clock.now_ms(), t0) == 200
        t0 = kt.clock.now_ms()
        assert errno_of(K.send, a, b"y", MSG_DONTWAIT) == EAGAIN
        assert kt.clock.now_ms() == t0  # MSG_DONTWAIT does not wait
        got = 0
        while got < queued + n:
            got += len(K.recv(b, 1024))
        assert got == queued + n and K.send(a, b"z", MSG_DONTWAIT) == 1
    sim(run)


def test_blocking_send_woken_by_reader_mid_wait():
    def run():
        a, b = K.socketpair(AF_UNIX, STREAM)
        K.setsockopt(a, SOL_SOCKET, SO_SNDBUF, 2048)
        sndbuf = K.getsockopt(a, SOL_SOCKET, SO_SNDBUF)
        sent = 0
        while True:
            try:
                sent += K.send(a, bytes(512), MSG_DONTWAIT)
            except OSError as e:
                assert e.args[0] == EAGAIN
                break
        assert sent <= sndbuf
        drained = []
        def reader(*x):
            while sum(drained) < sent:
                drained.append(len(K.recv(b, 1024, MSG_DONTWAIT)))
        t = timer.timer_list(reader)
        timer.mod_timer(t, kt.clock.now_ms() + 70)
        t0 = kt.clock.now_ms()
        assert K.send(a, b"w" * 16) == 16  # no SO_SNDTIMEO: waits for the reader's wake-up
        assert kt.clock.diff(kt.clock.now_ms(), t0) == 70 and drained
    sim(run)


def test_blocking_recv_with_rcvtimeo():
    def run():
        a, b = K.socketpair(AF_UNIX, SEQPACKET)
        timeo(b, SO_RCVTIMEO, 150)
        t0 = kt.clock.now_ms()
        assert errno_of(K.recv, b, 10) == EAGAIN
        assert kt.clock.diff(kt.clock.now_ms(), t0) == 150
        t = timer.timer_list(lambda *x: K.send(a, b"late"))
        timer.mod_timer(t, kt.clock.now_ms() + 50)
        assert K.recv(b, 10) == b"late"
        K.shutdown(a, 1)
        assert K.recv(b, 10) == b""  # EOF: no wait
    sim(run)
