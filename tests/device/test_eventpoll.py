# fs/eventpoll on the target: the ready list is filled by wait-queue callbacks,
# so epoll_wait looks only at ready items (never at idle ones), wakes at the
# exact simulated time of the event, and keeps Linux's ET / ONESHOT /
# EXCLUSIVE / nested / close rules.
from ksock import sys as K, stack
from ksock.kernel import time as kt, timer
from ksock.fs import pipe, fdtable

stack.init()
IN, OUT, ERR, HUP, RDHUP = K.EPOLLIN, K.EPOLLOUT, K.EPOLLERR, K.EPOLLHUP, 0x2000
ET, ONESHOT, EXCLUSIVE = 1 << 31, 1 << 30, 1 << 28
ADD, DEL, MOD = K.EPOLL_CTL_ADD, K.EPOLL_CTL_DEL, K.EPOLL_CTL_MOD


def sim(f):
    old = kt.set_clock(kt.SimClock(0))
    try:
        K.close_range(3)
        f()
    finally:
        kt.set_clock(old)
        K.close_range(3)


def at(ms, fn):
    t = timer.timer_list(lambda *a: fn())
    timer.mod_timer(t, kt.clock.now_ms() + ms)
    return t


def test_wait_times_out_at_exact_simulated_time():
    def run():
        r, w = K.pipe()
        ep = K.epoll_create1(0)
        K.epoll_ctl(ep, ADD, r, IN)
        assert K.epoll_wait(ep, 4, 0) == [] and kt.clock.now_ms() == 0
        assert K.epoll_wait(ep, 4, 175) == []
        assert kt.clock.now_ms() == 175
    sim(run)


def test_wait_woken_by_loopback_datagram_and_unix_send():
    def run():
        a = K.socket(2, 2)
        K.bind(a, ("127.0.0.1", 43101))
        b = K.socket(2, 2)
        u1, u2 = K.socketpair(1, 1)
        ep = K.epoll_create1(0)
        K.epoll_ctl(ep, ADD, a, IN)
        K.epoll_ctl(ep, ADD, u2, IN | RDHUP, data=0x1122334455)
        at(40, lambda: K.sendto(b, b"x", 0, ("127.0.0.1", 43101)))
        assert K.epoll_wait(ep, 4, 1000) == [(a, IN)]
        assert kt.clock.now_ms() == 40
        K.recv(a, 8)
        at(25, lambda: K.shutdown(u1, 1))
        assert K.epoll_wait(ep, 4, 1000) == [(0x1122334455, IN | RDHUP)]
        assert kt.clock.now_ms() == 65
    sim(run)


def test_wait_never_polls_idle_items():
    def run():
        fds = [K.pipe() for _ in range(6)]
        ep = K.epoll_create1(0)
        calls = [0]
        real = pipe.read_pipefifo_fops.poll

        def counting(f, pt=None):
            calls[0] += 1
            return real(f, pt)
        pipe.read_pipefifo_fops.poll = counting
        try:
            for r, w in fds:
                K.epoll_ctl(ep, ADD, r, IN)
            assert calls[0] == 6  # ep_insert polls each once (and registers)
            at(300, lambda: K.write(fds[4][1], b"x"))
            got = K.epoll_wait(ep, 8, 1000)
            assert calls[0] == 7  # only the woken item was asked
            assert K.epoll_wait(ep, 8, 0) == got  # level-triggered: still ready
            assert calls[0] == 8
        finally:
            pipe.read_pipefifo_fops.poll = real
        assert got == [(fds[4][0], IN)] and kt.clock.now_ms() == 300
    sim(run)


def test_edge_triggered_rearmed_only_by_a_new_event():
    def run():
        r, w = K.pipe()
        ep = K.epoll_create1(0)
        K.epoll_ctl(ep, ADD, r, IN | ET)
        K.write(w, b"a")
        assert K.epoll_wait(ep, 4, 0) == [(r, IN)]
        assert K.epoll_wait(ep, 4, 50) == []  # data still there, but no new edge
        at(10, lambda: K.write(w, b"b"))
        assert K.epoll_wait(ep, 4, 100) == [(r, IN)]
        assert kt.clock.now_ms() == 60
        assert K.read(r, 10) == b"ab"
        K.close(w)
        assert K.epoll_wait(ep, 4, 0) == [(r, HUP)]  # the writer's close is an edge too
    sim(run)


def test_oneshot_disarms_until_mod():
    def run():
        a, b = K.socketpair(1, 2)
        ep = K.epoll_create1(0)
        K.epoll_ctl(ep, ADD, b, IN | ONESHOT)
        K.send(a, b"1")
        assert K.epoll_wait(ep, 4, 0) == [(b, IN)]
        K.send(a, b"2")
        assert K.epoll_wait(ep, 4, 30) == []  # disarmed: even new data does not report
        K.epoll_ctl(ep, MOD, b, IN | OUT | ONESHOT)
        assert K.epoll_wait(ep, 4, 0) == [(b, IN | OUT)]
        assert K.epoll_wait(ep, 4, 0) == []
    sim(run)


def test_exclusive_wakes_one_of_two_sets():
    def run():
        r, w = K.pipe()
        ep1, ep2 = K.epoll_create1(0), K.epoll_create1(0)
        K.epoll_ctl(ep1, ADD, r, IN | EXCLUSIVE)
        K.epoll_ctl(ep2, ADD, r, IN | EXCLUSIVE)
        K.write(w, b"x")
        got = [K.epoll_wait(ep1, 4, 0), K.epoll_wait(ep2, 4, 0)]
        assert sorted(len(g) for g in got) == [0, 1], got  # one waiter woken, not both
        r2, w2 = K.pipe()
        ep3, ep4 = K.epoll_create1(0), K.epoll_create1(0)
        K.epoll_ctl(ep3, ADD, r2, IN)
        K.epoll_ctl(ep4, ADD, r2, IN)
        K.write(w2, b"x")
        assert K.epoll_wait(ep3, 4, 0) == K.epoll_wait(ep4, 4, 0) == [(r2, IN)]  # without: both
    sim(run)


def test_nested_epoll_wakes_outer_poll():
    def run():
        r, w = K.pipe()
        inner = K.epoll_create1(0)
        K.epoll_ctl(inner, ADD, r, IN)
        outer = K.epoll_create1(0)
        K.epoll_ctl(outer, ADD, inner, IN)
        at(80, lambda: K.write(w, b"x"))
        assert K.poll([(inner, K.POLLIN)], 1000) == [(inner, K.POLLIN)]
        assert kt.clock.now_ms() == 80
        assert K.epoll_wait(outer, 4, 0) == [(inner, IN)]
        assert K.epoll_wait(inner, 4, 0) == [(r, IN)]
    sim(run)


def test_close_removes_item_and_its_wait_entry():
    def run():
        a = K.socket(2, 2)
        ep = K.epoll_create1(0)
        K.epoll_ctl(ep, ADD, a, IN | OUT)
        sock = fdtable.fdget(a).private_data
        assert len(sock.wq.head) == 1
        d = K.dup(a)
        K.close(a)  # the file is still open through d: the item stays
        assert K.epoll_wait(ep, 4, 0) == [(a, OUT)]
        K.close(d)  # last close: eventpoll_release
        assert K.epoll_wait(ep, 4, 0) == [] and not sock.wq.head
        try:
            K.epoll_ctl(ep, DEL, d, 0)
            assert False
        except OSError as e:
            assert e.args[0] == 9  # EBADF
    sim(run)


def test_maxevents_round_robin():
    def run():
        socks = [K.socket(2, 2) for _ in range(3)]
        ep = K.epoll_create1(0)
        for s in socks:
            K.epoll_ctl(ep, ADD, s, OUT)
        seen = [K.epoll_wait(ep, 2, 0), K.epoll_wait(ep, 2, 0)]
        assert seen[0] == [(socks[0], OUT), (socks[1], OUT)]
        assert seen[1] == [(socks[2], OUT), (socks[0], OUT)]  # the rest first, then round again
    sim(run)
