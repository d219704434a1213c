# Timers (kernel/time/timer.c): timer_list objects kept in a binary min-heap by
# expiry, so add/mod/del are O(log n) and the loop asks "when is the next one?"
# in O(1). A timer remembers its heap slot; nothing is allocated per (re)arm.
from ksock.kernel import time as ktime
from ksock.kernel import fault_inject


class timer_list:
    __slots__ = ("expires", "function", "data", "_slot")

    def __init__(self, function, data=None):
        if fault_inject.fail_nth[0] and fault_inject.should_fail():
            raise MemoryError
        self.function = function
        self.data = data
        self.expires = 0
        self._slot = -1


_heap = []
RETRY_MS = 200  # a handler that raised MemoryError runs again this much later


def _before(a, b):
    return ktime.clock.diff(a.expires, b.expires) < 0


def _set(i, t):
    _heap[i] = t
    t._slot = i


def _up(i):
    t = _heap[i]
    while i:
        p = (i - 1) >> 1
        if not _before(t, _heap[p]):
            break
        _set(i, _heap[p])
        i = p
    _set(i, t)


def _down(i):
    n = len(_heap)
    t = _heap[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _before(_heap[c + 1], _heap[c]):
            c += 1
        if not _before(_heap[c], t):
            break
        _set(i, _heap[c])
        i = c
    _set(i, t)


def timer_pending(t):
    return t._slot >= 0


def del_timer(t):
    """Cancel; returns 1 if it was pending (as the kernel's del_timer)."""
    i = t._slot
    if i < 0:
        return 0
    last = _heap.pop()
    t._slot = -1
    if last is not t:
        _set(i, last)
        _down(i)
        _up(last._slot)
    return 1


def mod_timer(t, expires):
    """(Re)arm `t` at absolute jiffies `expires`; returns 1 if it was pending."""
    was = del_timer(t)
    t.expires = expires
    _heap.append(t)
    t._slot = len(_heap) - 1
    _up(t._slot)
    return was


def add_timer(t):
    mod_timer(t, t.expires)


def mod_timer_in(t, ms):
    return mod_timer(t, ktime.clock.add(ktime.clock.now_ms(), ms))


def next_timer_in(now, cap):
    """ms until the earliest timer (0 if due), at most `cap`."""
    if not _heap:
        return cap
    d = ktime.clock.diff(_heap[0].expires, now)
    return 0 if d <= 0 else (d if d < cap else cap)


def run_timers(now):
    """Fire every timer due at `now`; returns how many ran."""
    n = 0
    while _heap and ktime.clock.diff(_heap[0].expires, now) <= 0:
        t = _heap[0]
        del_timer(t)
        try:
            t.function(t.data)
        except MemoryError:
            # the handler found no heap (a board's fragmented heap): it runs
            # again soon instead of ending the caller's loop (or a socket call)
            if t._slot < 0:
                mod_timer_in(t, RETRY_MS)
        n += 1
    return n


def pending_count():
    return len(_heap)


def reset():
    """Drop every timer (tests, soft restart of the stack)."""
    for t in _heap:
        t._slot = -1
    del _heap[:]
