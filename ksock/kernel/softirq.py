# The softirq loop (kernel/softirq.c + net_rx_action): one thread, run to
# completion. Every blocking call spins this until its condition holds:
# poll each device (budgeted), fire due timers, then sleep until a frame or the
# next timer is due -- on a device fd when the driver has one, never busy-waiting.
from ksock.kernel import time as ktime
from ksock.kernel import timer

NAPI_BUDGET = 64
_pollers = []  # objects with .poll(budget) -> frames handled, optional .fileno()
_pollobj = None
_fds = []


def register_poller(p):
    global _pollobj
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


_post_rx = []  # run once after a receive pass that handled frames (deferred ACKs)


def register_post_rx(fn):
    if fn not in _post_rx:
        _post_rx.append(fn)


def run_post_rx():
    for fn in _post_rx:
        fn()


bh_pending = 0  # lo queued a frame inside a syscall (raise_softirq(NET_RX_SOFTIRQ))


def local_bh_enable():
    """The end of a send: Linux runs the softirq lo raised before the syscall
    returns (local_bh_enable, release_sock), so a loopback peer has received and
    ACKed by then."""
    if bh_pending:
        do_softirq()


def do_softirq():
    """One pass: receive (budgeted per device), then what the protocols deferred
    to the end of the batch, then timers. Returns work done."""
    global bh_pending
    bh_pending = 0
    work = 0
    for p in _pollers:
        work += p.poll(NAPI_BUDGET)
    if work:
        run_post_rx()
    work += timer.run_timers(ktime.clock.now_ms())
    return work


POLL_INTERVAL_MS = 1  # a NIC with no fd to sleep on (LAN9118, W5500) is polled this often


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
    if _fds and real:
        _pollobj.poll(ms)
    else:
        clk.idle(ms)


def wait_event(cond, timeout_ms=-1):
    """Run the loop until cond() is true (-> True) or timeout_ms passes (-> False).
    timeout_ms < 0 waits forever; 0 checks once after one pass."""
    clk = ktime.clock
    start = clk.now_ms()
    while True:
        if cond():
            return True
        work = do_softirq()
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


def run_for(ms):
    """Serve the network for `ms` milliseconds (REPL, launcher main loops)."""
    wait_event(lambda: False, ms)
