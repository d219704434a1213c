# fs/select on the target: poll/select sleep on wait queues while the softirq
# loop runs (simulated time), wake on the event they asked for, and do not
# re-poll idle fds while they wait.
from ksock import sys as K, stack
from ksock.kernel import time as kt, timer
from ksock.fs import pipe

stack.init()


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


def test_poll_times_out_at_exact_simulated_time():
    def run():
        r, w = K.pipe()
        assert K.poll([(r, K.POLLIN)], 250) == []
        assert kt.clock.now_ms() == 250
    sim(run)


def test_poll_woken_by_loopback_datagram_mid_wait():
    def run():
        a = K.socket(2, 2)
        K.bind(a, ("127.0.0.1", 43001))
        b = K.socket(2, 2)
        at(40, lambda: K.sendto(b, b"x", 0, ("127.0.0.1", 43001)))
        assert K.poll([(a, K.POLLIN)], 1000) == [(a, K.POLLIN)]
        assert kt.clock.now_ms() == 40
    sim(run)


def test_poll_ignores_wakeups_for_other_events():
    def run():
        r, w = K.pipe()
        r2, w2 = K.pipe()
        # a write on pipe 2 wakes its reader queue with POLLIN; we wait for POLLIN on pipe 1 only
        at(10, lambda: K.write(w2, b"a"))
        at(30, lambda: K.write(w, b"b"))
        assert K.poll([(r, K.POLLIN), (w2, K.POLLIN)], 100) == [(r, K.POLLIN)]
        assert kt.clock.now_ms() == 30
    sim(run)


def test_poll_does_not_repoll_idle_fds_while_waiting():
    def run():
        fds = [K.pipe() for _ in range(6)]  # 12 fds: within a board's 16
        calls = [0]
        real = pipe.read_pipefifo_fops.poll

        def counting(f, pt=None):
            calls[0] += 1
            return real(f, pt)
        pipe.read_pipefifo_fops.poll = counting
        try:
            at(300, lambda: K.write(fds[4][1], b"x"))
            got = K.poll([(r, K.POLLIN) for r, w in fds], 1000)
        finally:
            pipe.read_pipefifo_fops.poll = real
        assert got == [(fds[4][0], K.POLLIN)]
        assert calls[0] == 12  # one scan to register, one after the wake-up: 300 passes cost nothing
    sim(run)


def test_select_time_left_is_updated():
    def run():
        r, w = K.pipe()
        at(120, lambda: K.write(w, b"x"))
        n, rs, ws, xs, left = K.select(r + 1, [r], [], [], (1, 0))
        assert (n, rs, left) == (1, [r], (0, 880000))
        n, rs, ws, xs, left = K.select(r + 1, 0, 0, 0, (0, 50000))
        assert (n, rs, left) == (0, 0, (0, 0))  # bitmaps in, bitmaps out
    sim(run)


def test_select_bitmaps_and_ebadf():
    def run():
        r, w = K.pipe()
        n, rs, ws, xs, left = K.select(w + 1, 1 << r, 1 << w, 0, None) if False else K.select(w + 1, 1 << r, 1 << w, 0, (0, 0))
        assert (n, rs, ws) == (1, 0, 1 << w)
        try:
            K.select(12, 1 << 11, 0, 0, (0, 0))
            assert False
        except OSError as e:
            assert e.args[0] == 9
    sim(run)


def test_poll_nval_and_rlimit():
    def run():
        assert K.poll([(30, K.POLLIN)], 0) == [(30, K.POLLNVAL)]
        old = K.getrlimit_nofile()
        K.setrlimit_nofile(4)
        try:
            K.poll([(-1, 0)] * 5, 0)
            assert False
        except OSError as e:
            assert e.args[0] == 22
        finally:
            K.setrlimit_nofile(old)
    sim(run)


def test_dropin_select_with_asyncio_streams():
    import sys
    try:
        import asyncio
    except ImportError:  # the QEMU board: asyncio is frozen but there is no built-in select/time
        skip("no built-in select/time to start asyncio under (test_asyncio_tcp runs asyncio on ksock's)")
    import ksock.socket as ks
    import ksock.select as kselect
    old = sys.modules.get("select")
    sys.modules["select"] = kselect
    try:
        del sys.modules["asyncio.core"]  # re-import so asyncio binds our select
    except KeyError:
        pass
    K.close_range(3)
    a, b = K.socketpair(1, 1)
    sa, sb = ks.socket(1, 1, 0, fileno=a), ks.socket(1, 1, 0, fileno=b)
    sa.setblocking(False)
    sb.setblocking(False)
    got = []

    async def writer():
        w = asyncio.StreamWriter(sa, {})
        for i in range(3):
            await asyncio.sleep_ms(5)
            w.write(b"m%d\n" % i)
            await w.drain()

    async def reader():
        r = asyncio.StreamReader(sb)
        for i in range(3):
            got.append(await r.readline())

    async def main():
        asyncio.create_task(writer())
        await reader()
    try:
        asyncio.run(main())
        p = kselect.poll()
        p.register(sa, kselect.POLLOUT)
        assert p.poll(0) == [(sa, kselect.POLLOUT)]
        p.close()
    finally:
        if old is not None:
            sys.modules["select"] = old
        K.close_range(3)
    assert got == [b"m0\n", b"m1\n", b"m2\n"]
