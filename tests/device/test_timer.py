# kernel/time/timer.c: heap order, re-arm, cancel, wrap-around, in simulated time.
from ksock.kernel import time as ktime
from ksock.kernel import timer as T


def _sim(start=0):
    T.reset()
    return ktime.set_clock(ktime.SimClock(start))


def test_timers_fire_in_expiry_order_not_insertion_order():
    old = _sim()
    try:
        fired = []
        ts = [T.timer_list(fired.append, d) for d in (50, 10, 40, 20, 30)]
        for t in ts:
            T.mod_timer(t, t.data)
        assert T.pending_count() == 5
        assert T.run_timers(25) == 2 and fired == [10, 20]
        assert T.run_timers(100) == 3 and fired == [10, 20, 30, 40, 50]
        assert T.pending_count() == 0
    finally:
        ktime.set_clock(old)


def test_mod_timer_rearms_pending_timer_once():
    old = _sim()
    try:
        fired = []
        t = T.timer_list(fired.append, "x")
        assert T.mod_timer(t, 10) == 0
        assert T.mod_timer(t, 30) == 1  # was pending: moved, not duplicated
        assert T.pending_count() == 1
        T.run_timers(20)
        assert fired == []
        T.run_timers(30)
        assert fired == ["x"] and not T.timer_pending(t)
    finally:
        ktime.set_clock(old)


def test_del_timer_from_middle_keeps_heap_valid():
    old = _sim()
    try:
        fired = []
        ts = [T.timer_list(fired.append, i) for i in range(40)]
        for i, t in enumerate(ts):
            T.mod_timer(t, (i * 37) % 101)
        for t in ts[::3]:
            assert T.del_timer(t) == 1
            assert T.del_timer(t) == 0
        T.run_timers(1000)
        want = sorted((i for i in range(40) if i % 3), key=lambda i: (i * 37) % 101)
        assert [(i * 37) % 101 for i in fired] == [(i * 37) % 101 for i in want]
    finally:
        ktime.set_clock(old)


def test_timer_expiry_compares_across_ticks_wraparound():
    start = (1 << 30) - 5  # ms clock about to wrap
    old = _sim(start)
    try:
        c = ktime.clock
        fired = []
        a = T.timer_list(fired.append, "late")
        b = T.timer_list(fired.append, "early")
        T.mod_timer(a, c.add(c.now_ms(), 20))  # after the wrap: a small number
        T.mod_timer(b, c.add(c.now_ms(), 2))   # before the wrap: a large number
        assert T.next_timer_in(c.now_ms(), 1000) == 2
        c.advance(3)
        T.run_timers(c.now_ms())
        assert fired == ["early"]
        c.advance(20)
        T.run_timers(c.now_ms())
        assert fired == ["early", "late"]
    finally:
        ktime.set_clock(old)


def test_softirq_wait_event_times_out_in_simulated_time():
    from ksock.kernel import softirq
    old = _sim()
    try:
        c = ktime.clock
        t0 = c.now_ms()
        assert softirq.wait_event(lambda: False, 250) is False
        assert c.diff(c.now_ms(), t0) >= 250
        hit = []
        t = T.timer_list(lambda d: hit.append(1))
        T.mod_timer_in(t, 100)
        assert softirq.wait_event(lambda: bool(hit), 1000) is True
        assert 100 <= c.diff(c.now_ms(), t0 + 250) < 150
    finally:
        ktime.set_clock(old)
