# The stack's one clock (kernel/time/jiffies.c in spirit): every timer, timeout
# and RTT sample reads `clock`. Tests swap in SimClock to run in simulated time.
from ksock.compat import ticks_ms, ticks_us, ticks_diff, ticks_add

try:
    from time import sleep_ms as _sleep_ms
except ImportError:
    try:
        from time import sleep as _sleep

        def _sleep_ms(ms):
            _sleep(ms / 1000)
    except ImportError:
        _sleep_ms = None  # QEMU board: nothing to sleep on; the loop polls


class Clock:
    """Real time: MicroPython ticks (ms/us, wrapping at 2**30). The ticks
    functions are the methods themselves: a Python method around each cost
    ~7 us a call on the QEMU board (1.4 us for the C call alone), and a TCP
    segment reads the clock four or five times."""
    now_ms = staticmethod(ticks_ms)
    now_us = staticmethod(ticks_us)
    diff = staticmethod(ticks_diff)
    add = staticmethod(ticks_add)

    def idle(self, ms):
        """Nothing to do for up to `ms` ms: sleep (drivers with an fd use poll instead)."""
        if ms > 0 and _sleep_ms is not None:
            _sleep_ms(ms)


class SimClock(Clock):
    """Simulated time: advances only when the stack idles or a test says so."""

    def __init__(self, start_ms=0):
        self.us = start_ms * 1000

    def now_ms(self):
        return (self.us // 1000) & 0x3FFFFFFF

    def now_us(self):
        return self.us & 0x3FFFFFFF

    def idle(self, ms):
        if ms > 0:
            self.us += ms * 1000

    def advance(self, ms):
        self.us += int(ms * 1000)

    # Own 2**30 wrap on every interpreter (the unix port's ticks wrap at 2**62),
    # so tests can start just before the wrap and cross it.
    def diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def add(self, t, d):
        return (t + d) & 0x3FFFFFFF


clock = Clock()


def set_clock(c):
    """Install `c` as the stack's clock; returns the previous one."""
    global clock
    old, clock = clock, c
    return old


def jiffies():
    return clock.now_ms()
