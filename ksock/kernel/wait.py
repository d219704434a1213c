# kernel/sched/wait.c + include/linux/wait.h: wait queues. A head holds entries;
# each entry has a callback (func) called by __wake_up with the event's key (a
# poll mask), so only the waiters an event concerns do any work: poll/select
# mark their table "triggered", epoll puts one item on its ready list, a
# blocked recv sets WQ_FLAG_WOKEN. One thread: "sleeping" is running the
# softirq loop (kernel/softirq.wait_event) until the entry is woken.
from ksock.compat import const
from ksock.kernel import softirq
from ksock.kernel import time as ktime

WQ_FLAG_EXCLUSIVE = const(0x01)
WQ_FLAG_WOKEN = const(0x02)
TASK_INTERRUPTIBLE = const(1)
POLLFREE = const(0x4000)  # uapi poll.h: "the wait queue head is going away"
MAX_SCHEDULE_TIMEOUT = const(0x3FFFFFFF)  # as net/core/sock.py: forever


class wait_queue_entry:
    """struct wait_queue_entry: func(entry, mode, sync, key) -> 0 / 1 (woken)."""
    flags = 0
    private = None

    def __init__(self, func, private=None):
        self.func = func
        if private is not None:
            self.private = private


class wait_queue_head:
    """struct wait_queue_head: the entries, oldest first (exclusive ones last)."""

    def __init__(self):
        self.head = []


def init_waitqueue_func_entry(func, private=None):
    return wait_queue_entry(func, private)


def add_wait_queue(wq_head, wq_entry):
    wq_entry.flags &= ~WQ_FLAG_EXCLUSIVE
    wq_head.head.insert(0, wq_entry)


def add_wait_queue_exclusive(wq_head, wq_entry):
    wq_entry.flags |= WQ_FLAG_EXCLUSIVE
    wq_head.head.append(wq_entry)


def remove_wait_queue(wq_head, wq_entry):
    h = wq_head.head
    if wq_entry in h:
        h.remove(wq_entry)


def waitqueue_active(wq_head):
    return wq_head is not None and len(wq_head.head) > 0


def __wake_up_common(wq_head, mode, nr_exclusive, sync, key):
    """Call each entry's func; stop after nr_exclusive exclusive entries woke
    (0: wake them all). Entries may remove themselves while we walk."""
    h = wq_head.head
    i = 0
    while i < len(h):
        e = h[i]
        ret = e.func(e, mode, sync, key)
        if i < len(h) and h[i] is e:
            i += 1
        if ret < 0:
            break
        if ret and (e.flags & WQ_FLAG_EXCLUSIVE):
            nr_exclusive -= 1
            if nr_exclusive == 0:
                break


def __wake_up(wq_head, mode, nr_exclusive, key):
    if wq_head is not None and wq_head.head:
        __wake_up_common(wq_head, mode, nr_exclusive, 0, key)


def wake_up_interruptible_poll(wq_head, key):
    __wake_up(wq_head, TASK_INTERRUPTIBLE, 1, key)


def wake_up_interruptible_sync_poll(wq_head, key):
    if wq_head is not None and wq_head.head:
        __wake_up_common(wq_head, TASK_INTERRUPTIBLE, 1, 1, key)


def wake_up_interruptible_all(wq_head):
    __wake_up(wq_head, TASK_INTERRUPTIBLE, 0, 0)


def wake_up_pollfree(wq_head):
    """The head is being freed: pollers (epoll) must drop their entries."""
    __wake_up(wq_head, TASK_INTERRUPTIBLE, 0, POLLFREE)
    if wq_head is not None:
        del wq_head.head[:]


# ---- waiting: the softirq loop runs until the entry is woken -----------------------

def default_wake_function(wq_entry, mode, sync, key):
    wq_entry.flags |= WQ_FLAG_WOKEN
    return 1


woken_wake_function = default_wake_function


def autoremove_wake_function(wq_entry, mode, sync, key):
    wq_entry.flags |= WQ_FLAG_WOKEN
    return 1


def wait_woken(wq_entry, timeout):
    """Run the stack until the entry is woken or `timeout` jiffies (ms) pass;
    MAX_SCHEDULE_TIMEOUT waits forever. Returns the time left (0: timed out).
    Clears WQ_FLAG_WOKEN, as the kernel does after the sleep."""
    if not wq_entry.flags & WQ_FLAG_WOKEN:
        clk = ktime.clock
        forever = timeout >= MAX_SCHEDULE_TIMEOUT
        start = clk.now_ms()
        softirq.wait_event(lambda: wq_entry.flags & WQ_FLAG_WOKEN, -1 if forever else timeout)
        if not forever:
            timeout -= clk.diff(clk.now_ms(), start)
            if timeout < 0:
                timeout = 0
    wq_entry.flags &= ~WQ_FLAG_WOKEN
    return timeout


def wait_event_timeout(wq_head, cond, timeout):
    """___wait_event(): 0 if cond() stayed false for `timeout`, else the time
    left (at least 1), as wait_event_interruptible_timeout."""
    if cond():
        return timeout if timeout > 0 else 1
    e = wait_queue_entry(woken_wake_function)
    add_wait_queue(wq_head, e)
    try:
        while True:
            timeout = wait_woken(e, timeout)
            if cond():
                return timeout if timeout > 0 else 1
            if timeout == 0:
                return 0
    finally:
        remove_wait_queue(wq_head, e)
