# kernel/softirq.c's ksoftirqd and the timer interrupt's irq_exit: softirq
# passes while the program is elsewhere (computing, or blocked outside ksock).
#
# - unix port: a _thread. MicroPython's GIL lets it run while the program
#   computes (the VM hands the GIL over every few dozen jumps) or blocks in C
#   (sleep, poll and read release it); micropython.schedule would not do, as
#   with the GIL a scheduled callback runs in whichever thread looks first. The
#   thread sleeps on the devices' fds (poll(2), GIL released) at most TICK_MS,
#   then takes the bh guard without waiting (softirq.bh_trylock: the guard is
#   a lock while this thread exists) and runs one pass; when a syscall or a
#   waiter is inside the stack it skips -- they make progress themselves.
# - boards: a periodic tick schedules softirq.softirq_tick through
#   micropython.schedule: machine.Timer where the port has one (rp2, ESP32),
#   else SysTick through the `ktick` C module (QEMU mps2-an385). The tick runs
#   between bytecodes of whatever the program does; the bh counter makes it
#   skip (and leave the pass to local_bh_enable) while a syscall is inside.
# Started by the launcher (ksock.run) and by ksock.board.boot(); tests that
# drive the stack directly in simulated time never start it.
import sys
from ksock.kernel import softirq
from ksock.kernel import time as ktime

TICK_MS = 5
_kthread = None  # the unix thread's state while it runs
_timer = None  # ("ktick", module) or ("timer", machine.Timer) on a board


class _state:
    run = True
    alive = False
    passes = 0
    errors = 0


def _thread_main(st, tick_ms):
    sleep_ms = ktime._sleep_ms  # the interpreter's own (the launcher replaces `time`)
    p = softirq.device_poll()
    st.alive = True
    try:
        while st.run:
            if softirq.serving or p is None:  # a waiter sleeps on the fds itself, or no fds (W5500)
                sleep_ms(tick_ms)
                ready = False
            else:
                ready = p.poll(tick_ms)  # GIL released meanwhile
            if not st.run:
                break
            if not ready and not _stale(tick_ms):
                continue  # a syscall ran a pass lately
            try:
                if not softirq.bh_trylock():
                    softirq.bh_pending = 1  # runs at that syscall's local_bh_enable
                    sleep_ms(1)
                    continue
                try:
                    softirq.__do_softirq()
                    st.passes += 1
                finally:
                    softirq.local_bh_enable()
            except Exception as e:  # noqa: BLE001 -- the thread must outlive one bad pass
                st.errors += 1
                if st.errors < 4:
                    sys.print_exception(e)
    finally:
        st.alive = False


def _stale(tick_ms):
    """No pass for a tick: timers may be due."""
    clk = ktime.clock
    return clk.diff(clk.now_ms(), softirq.last_pass_ms) >= tick_ms


def _sched(_t):
    """machine.Timer callback: schedule the pass (a hard callback must not run it)."""
    try:
        _schedule(softirq.softirq_tick, None)
    except RuntimeError:
        pass  # schedule queue full: the next tick tries again


_schedule = None


def start(tick_ms=TICK_MS):
    """Start background servicing for this port; returns what serves it
    ("thread", "ktick", "timer") or None when the port offers nothing."""
    global _kthread, _timer, _schedule
    if _kthread is not None or _timer is not None:
        return "thread" if _kthread is not None else _timer[0]
    if sys.platform == "linux":
        try:
            import _thread
        except ImportError:
            return None
        st = _state()
        softirq.bh_set_lock(_thread.allocate_lock(), _thread.get_ident)
        _kthread = st
        _thread.start_new_thread(_thread_main, (st, tick_ms))
        return "thread"
    try:
        import ktick
        ktick.start(tick_ms * 1000, softirq.softirq_tick)
        _timer = ("ktick", ktick)
        return "ktick"
    except ImportError:
        pass
    try:
        import micropython
        from machine import Timer
    except ImportError:
        return None
    _schedule = micropython.schedule
    for tid in (-1, 0):
        try:
            t = Timer(tid)
            t.init(mode=Timer.PERIODIC, period=tick_ms, callback=_sched)
            _timer = ("timer", t)
            return "timer"
        except (ValueError, TypeError, OSError):
            continue
    return None


def stop():
    """Stop background servicing (before the devices close)."""
    global _kthread, _timer
    st = _kthread
    if st is not None:
        st.run = False
        for _ in range(200):  # it wakes within a tick
            if not st.alive:
                break
            ktime._sleep_ms(2)
        _kthread = None
        softirq.bh_set_lock(None, None)
    if _timer is not None:
        kind, t = _timer
        _timer = None
        if kind == "ktick":
            t.stop()
        else:
            t.deinit()


def running():
    return _kthread is not None or _timer is not None
