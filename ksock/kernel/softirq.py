# The softirq loop (kernel/softirq.c + net_rx_action). One pass (do_softirq):
# poll each device (budgeted), run what the protocols deferred to the end of
# the batch, fire due timers; transmit happens inline as the protocols send.
#
# Where passes run -- the stack makes progress from every entry, as Linux runs
# softirqs on interrupt exit and at local_bh_enable():
# - a blocking call spins wait_event() until its condition holds, sleeping
#   between passes on a device fd when the driver has one (never busy-waiting);
# - a non-blocking call that would answer EAGAIN/"not ready" runs one pass
#   first and checks again, and a send runs one after queueing
#   (net/socket.py: sock_sendmsg, sock_recvmsg, accept, connect);
# - the outermost local_bh_enable() runs a pass when one was raised meanwhile
#   (lo queued a frame, or a background tick found bh disabled);
# - a background tick (kernel/ksoftirqd.py: a _thread on the unix port, a
#   timer interrupt + micropython.schedule on boards) runs passes while the
#   program is elsewhere.
# The bh guard: every syscall and every pass holds local_bh_disable(), so a
# tick never enters the stack while a syscall is inside it. With a background
# thread the guard is also a lock (only the outermost level takes it), and a
# waiter drops it while it sleeps, as sk_wait_event releases the socket lock.
from ksock.kernel import time as ktime
from ksock.kernel import timer

NAPI_BUDGET = 64
_pollers = []  # objects with .poll(budget) -> frames handled, optional .fileno()
_pollobj = None
_select = None  # the interpreter's own select module (a drop-in may shadow it later)
_fds = []


def register_poller(p):
    global _pollobj, _select
    _pollers.append(p)
    fd = p.fileno() if hasattr(p, "fileno") else None
    if fd is not None and fd >= 0:
        try:
            try:
                import uselect as select  # the built-in, not a drop-in select.py
            except ImportError:
                import select
            if _pollobj is None:
                _pollobj = select.poll()
                _select = select
            _pollobj.register(fd, select.POLLIN)
            _fds.append(fd)
        except (ImportError, AttributeError):
            pass


def unregister_poller(p):
    if p in _pollers:
        _pollers.remove(p)
    fd = p.fileno() if hasattr(p, "fileno") else None
    if fd in _fds:
        _fds.remove(fd)
        _pollobj.unregister(fd)


def device_poll():
    """A new poll object of the interpreter's own select on the devices' fds
    (ksoftirqd sleeps on it), or None when no device has an fd."""
    select = _select
    if select is None or not _fds:
        return None
    p = select.poll()
    for fd in _fds:
        p.register(fd, select.POLLIN)
    return p


_post_rx = []  # run once after a receive pass that handled frames (deferred ACKs)


def register_post_rx(fn):
    if fn not in _post_rx:
        _post_rx.append(fn)


def run_post_rx():
    for fn in _post_rx:
        fn()


# ---- the bh guard: local_bh_disable/local_bh_enable ---------------------------------

MAX_SOFTIRQ_RESTART = 10
bh_pending = 0  # a pass was raised while bh was disabled (lo queued a frame, a tick was skipped)
bh_count = 0  # local_bh_disable() depth of the holder
_lock = None  # a _thread lock when a background thread serves the stack (bh_set_lock)
_owner = None  # the thread holding _lock
_ident = None  # _thread.get_ident
serving = 0  # a waiter sleeps on the device fds itself (ksoftirqd need not)
last_pass_ms = 0


def bh_set_lock(lock, ident):
    """Make the guard a lock too (a background thread shares the stack): call
    with bh enabled; (None, None) drops it."""
    global _lock, _ident, _owner
    _lock, _ident, _owner = lock, ident, None


def local_bh_disable():
    global bh_count, _owner
    lk = _lock
    if lk is not None:
        me = _ident()
        if _owner != me:
            lk.acquire()
            _owner = me
    bh_count += 1


def local_bh_enable():
    """Leave a bh-disabled section; the outermost one runs the pass raised
    meanwhile (Linux: do_softirq from local_bh_enable), then drops the lock."""
    global bh_count, _owner
    if bh_count == 1 and bh_pending:
        try:
            n = MAX_SOFTIRQ_RESTART
            while bh_pending and n:  # a pass may raise another (lo answering lo)
                __do_softirq()
                n -= 1
        finally:
            bh_count = 0
            if _lock is not None:
                _owner = None
                _lock.release()
        return
    bh_count -= 1
    if not bh_count and _lock is not None:
        _owner = None
        _lock.release()


def bh_trylock():
    """Enter from the background: True with bh disabled when nobody is inside
    the stack (the lock taken without waiting), else False."""
    global bh_count, _owner
    lk = _lock
    if lk is not None:
        if not lk.acquire(0):
            return False
        _owner = _ident()
    elif bh_count:
        return False
    bh_count = 1
    return True


def softirq_tick(_=None):
    """A background tick (timer interrupt exit, ksoftirqd): one pass unless a
    syscall or waiter is inside the stack -- then it runs at that caller's
    local_bh_enable. Returns work done."""
    global bh_pending
    if not bh_trylock():
        bh_pending = 1
        return 0
    try:
        return __do_softirq()
    finally:
        local_bh_enable()


def __do_softirq():
    global bh_pending, last_pass_ms
    bh_pending = 0
    work = 0
    for p in _pollers:
        work += p.poll(NAPI_BUDGET)
    if work:
        run_post_rx()
    now = ktime.clock.now_ms()
    last_pass_ms = now
    work += timer.run_timers(now)
    return work


def do_softirq():
    """One pass: receive (budgeted per device), then what the protocols deferred
    to the end of the batch, then timers. Returns work done."""
    global bh_count
    if _lock is None and bh_count:  # inside a syscall, no thread: the count is the whole guard
        bh_count += 1
        try:
            return __do_softirq()
        finally:
            bh_count -= 1  # the syscall's own local_bh_enable runs what this pass raised
    local_bh_disable()
    try:
        return __do_softirq()
    finally:
        local_bh_enable()


POLL_INTERVAL_MS = 1  # a NIC with no fd to sleep on (LAN9118, W5500) is polled this often


def _sleep(clk, ms):
    """Sleep with the lock dropped, so another thread's syscall or ksoftirqd
    can enter meanwhile (bh stays counted for this caller)."""
    global bh_count, _owner, serving
    lk = _lock
    if lk is None or _owner != _ident():
        if _fds and type(clk) is ktime.Clock:
            _pollobj.poll(ms)
        else:
            clk.idle(ms)
        return
    depth = bh_count
    bh_count = 0
    _owner = None
    serving += 1
    lk.release()
    try:
        if _fds:
            _pollobj.poll(ms)
        else:
            clk.idle(ms)
    finally:
        lk.acquire()
        serving -= 1
        _owner = _ident()
        bh_count = depth


def idle(max_ms):
    """Nothing to do: wait for a frame or the next timer, up to `max_ms`. Only
    when every device has an fd can the loop sleep until one is readable;
    otherwise it sleeps one poll interval at a time, so a frame on a board's
    NIC waits at most that long (not until the next timer)."""
    clk = ktime.clock
    ms = timer.next_timer_in(clk.now_ms(), max_ms)
    if ms <= 0:
        return
    real = type(clk) is ktime.Clock
    if real and ms > POLL_INTERVAL_MS:
        for p in _pollers:
            if getattr(p, "idle_poll", True) and not (hasattr(p, "fileno") and p.fileno() >= 0):
                ms = POLL_INTERVAL_MS
                break
    _sleep(clk, ms)


def wait_event(cond, timeout_ms=-1):
    """Run the loop until cond() is true (-> True) or timeout_ms passes (-> False).
    timeout_ms < 0 waits forever; 0 checks once after one pass."""
    clk = ktime.clock
    start = clk.now_ms()
    local_bh_disable()
    try:
        while True:
            if cond():
                return True
            work = __do_softirq()
            if cond():
                return True
            if timeout_ms >= 0:
                left = timeout_ms - clk.diff(clk.now_ms(), start)
                if left <= 0:
                    return False
            else:
                left = 1000
            if not work:
                idle(left)
    finally:
        local_bh_enable()


def run_for(ms):
    """Serve the network for `ms` milliseconds (REPL, launcher main loops)."""
    wait_event(lambda: False, ms)
