# fs/select.c: poll(2) and select(2) over wait queues. Each call polls every
# fd once, registering one entry (__pollwait) on each file's wait queue; then,
# while nothing is ready, it runs the softirq loop until some entry's callback
# (pollwake) fires for an event the caller asked about, and polls again.
# Between wake-ups nothing is re-polled: the cost of waiting does not grow with
# the number of idle fds. Negative errno inside; ksock.sys raises OSError.
from ksock.compat import const
from ksock.uapi.errno import EINVAL, EBADF
from ksock.kernel import wait, softirq
from ksock.kernel import time as ktime
from ksock.fs import fdtable

POLLIN = const(0x1)
POLLPRI = const(0x2)
POLLOUT = const(0x4)
POLLERR = const(0x8)
POLLHUP = const(0x10)
POLLNVAL = const(0x20)
POLLRDNORM = const(0x40)
POLLRDBAND = const(0x80)
POLLWRNORM = const(0x100)
POLLWRBAND = const(0x200)
DEFAULT_POLLMASK = const(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)
POLLIN_SET = const(POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
POLLOUT_SET = const(POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
POLLEX_SET = const(POLLPRI)
_ALL_EVENTS = const(0xFFFFFFFF)


class poll_table:
    """struct poll_table_struct: _qproc registers a waiter (None: just report),
    _key the events the caller wants (so wake-ups for others are ignored)."""

    def __init__(self, qproc):
        self._qproc = qproc
        self._key = _ALL_EVENTS


def poll_wait(filp, wait_address, p):
    """Called by every f_op->poll before computing its mask."""
    if p is not None and p._qproc is not None and wait_address is not None:
        p._qproc(filp, wait_address, p)


def poll_requested_events(p):
    return p._key if p is not None else _ALL_EVENTS


def vfs_poll(f, pt):
    fp = f.f_op.poll
    if fp is None:
        return DEFAULT_POLLMASK
    return fp(f, pt)


# ---- poll_wqueues: one call's table of wait entries --------------------------------

class poll_table_entry(wait.wait_queue_entry):
    """An entry on one file's wait queue; private is the owning poll_wqueues."""

    def __init__(self, pwq, key, wait_address):
        self.func = pollwake
        self.private = pwq
        self.key = key
        self.wait_address = wait_address


class poll_wqueues:
    def __init__(self):
        self.pt = poll_table(__pollwait)
        self.triggered = 0
        self.error = 0
        self.entries = []
        self.pt.pwq = self


def poll_initwait():
    return poll_wqueues()


def __pollwait(filp, wait_address, p):
    pwq = p.pwq
    e = poll_table_entry(pwq, p._key, wait_address)
    pwq.entries.append(e)
    wait.add_wait_queue(wait_address, e)


def pollwake(e, mode, sync, key):
    if key and not (key & e.key):
        return 0  # an event nobody here asked about
    e.private.triggered = 1
    return 1


def poll_freewait(pwq):
    for e in pwq.entries:
        wait.remove_wait_queue(e.wait_address, e)
    pwq.entries = []


def poll_schedule_timeout(pwq, left):
    """Run the stack until a pollwake or `left` ms (-1: forever). 0 if timed out."""
    r = softirq.wait_event(lambda: pwq.triggered, left)
    pwq.triggered = 0
    return 1 if r else 0


_NOWAIT = "nowait"  # end time of a zero timeout: Linux's {0, 0}, the only one that registers no waiters


def _end_time(timeout_ms):
    if timeout_ms < 0:
        return None
    if timeout_ms == 0:
        return _NOWAIT
    clk = ktime.clock
    return clk.add(clk.now_ms(), timeout_ms)


def _left(end):
    if end is None:
        return -1
    if end is _NOWAIT:
        return 0
    clk = ktime.clock
    d = clk.diff(end, clk.now_ms())
    return d if d > 0 else 0


# ---- poll(2) -----------------------------------------------------------------------

def do_pollfd(pfd, pt):
    """pfd = [fd, events, revents]: sets revents, returns it."""
    fd = pfd[0]
    if fd < 0:
        pfd[2] = 0
        return 0
    f = fdtable.fdget(fd)
    if f is None:
        pfd[2] = POLLNVAL
        return POLLNVAL
    filt = (pfd[1] & 0xFFFF) | POLLERR | POLLHUP
    if pt is not None:
        pt._key = filt
    fp = f.f_op.poll
    mask = (DEFAULT_POLLMASK if fp is None else fp(f, pt)) & filt
    pfd[2] = mask
    return mask


_sock_fops = None  # socket_file_ops, registered by net/socket.py (lower layers never import upper ones)


def poll_register_sock_fops(fops):
    """net/socket.py at import: files with these f_op are asked through
    sock->ops->poll directly when nothing is to be registered."""
    global _sock_fops
    _sock_fops = fops


def do_poll(fds, pwq, end):
    """One pass per wake-up over every fd, do_pollfd inlined (the per-fd cost is
    what poll(2) is made of). As Linux: no waiters are registered when the
    timeout is zero ("optimise the no-wait case") nor once an fd is ready
    (pt->_qproc = NULL); a socket that registers nothing is asked through its
    proto_ops directly (sock_poll without poll_wait)."""
    sfops = _sock_fops
    pt = pwq.pt
    timed_out = False
    if end is _NOWAIT:  # not "already past": a timeout that ran out before the first pass still registers
        pt._qproc = None
        timed_out = True
    slots = fdtable.current.files.fd
    reserved = fdtable._RESERVED
    while True:
        nslots = len(slots)
        count = 0
        qproc = pt._qproc
        for pfd in fds:
            fd = pfd[0]
            if fd < 0:
                pfd[2] = 0
                continue
            f = slots[fd] if fd < nslots else None
            if f is None or f is reserved:
                pfd[2] = POLLNVAL
                count += 1
                if qproc is not None:
                    qproc = pt._qproc = None
                continue
            filt = (pfd[1] & 0xFFFF) | POLLERR | POLLHUP
            fop = f.f_op
            if qproc is None and fop is sfops:  # proto_ops polls do not read pt->_key
                sock = f.private_data
                mask = sock.ops.poll(f, sock) & filt
            else:
                pt._key = filt
                fp = fop.poll
                mask = (DEFAULT_POLLMASK if fp is None else fp(f, pt)) & filt
            pfd[2] = mask
            if mask:
                count += 1
                if qproc is not None:
                    qproc = pt._qproc = None  # something is ready: stop registering waiters
        pt._qproc = None
        if not count:
            count = pwq.error
        if count or timed_out:
            return count
        left = _left(end)
        if not poll_schedule_timeout(pwq, left) or left == 0:
            timed_out = True


def do_sys_poll(fds, timeout_ms):
    """fds: list of [fd, events, revents] (revents filled in). Returns the
    number of fds with nonzero revents, or -EINVAL past RLIMIT_NOFILE."""
    if len(fds) > fdtable.rlimit_nofile():
        return -EINVAL
    end = _end_time(timeout_ms)
    softirq.do_softirq()  # what Linux runs on the way out of the previous syscall
    pwq = poll_initwait()
    try:
        return do_poll(fds, pwq, end)
    finally:
        poll_freewait(pwq)


# ---- select(2): fd sets are bitmaps (Python ints) -----------------------------------

def max_select_fd(n, sets):
    """EBADF if a set names an fd below n that is not open; else the highest+1."""
    bits = 0
    for s in sets:
        bits |= s
    bits &= (1 << n) - 1
    mx = 0
    fd = 0
    while bits:
        if bits & 1:
            if fdtable.fdget(fd) is None:
                return -EBADF
            mx = fd + 1
        bits >>= 1
        fd += 1
    return mx


def do_select(n, inp, outp, exp, end):
    """(count, res_in, res_out, res_ex) or -errno."""
    n = max_select_fd(n, (inp, outp, exp))
    if n < 0:
        return n
    pwq = poll_initwait()
    pt = pwq.pt
    timed_out = end is _NOWAIT
    if timed_out:
        pt = None  # the no-wait case: register nothing
    try:
        while True:
            rin = rout = rex = 0
            count = 0
            for fd in range(n):
                bit = 1 << fd
                want = ((POLLIN_SET if inp & bit else 0) | (POLLOUT_SET if outp & bit else 0)
                        | (POLLEX_SET if exp & bit else 0))
                if not want:
                    continue
                f = fdtable.fdget(fd)
                if pt is not None:
                    pt._key = want
                mask = vfs_poll(f, pt)
                if mask & POLLIN_SET and inp & bit:
                    rin |= bit
                    count += 1
                    pt = None
                if mask & POLLOUT_SET and outp & bit:
                    rout |= bit
                    count += 1
                    pt = None
                if mask & POLLEX_SET and exp & bit:
                    rex |= bit
                    count += 1
                    pt = None
            pt = None
            if count or timed_out or pwq.error:
                return (count or pwq.error), rin, rout, rex
            left = _left(end)
            if not poll_schedule_timeout(pwq, left) or left == 0:
                timed_out = True
    finally:
        poll_freewait(pwq)


def core_sys_select(n, inp, outp, exp, timeout):
    """kern_select(): timeout (sec, usec) or None. Returns (count, in, out, ex,
    time left as (sec, usec) or None) or -errno. n is clamped to the fd table."""
    end = None
    if timeout is not None:
        sec, usec = timeout
        sec += int(usec / 1000000)  # C division: truncates toward zero
        usec = usec - int(usec / 1000000) * 1000000
        if sec < 0 or usec < 0:
            return -EINVAL
        end = _end_time(sec * 1000 + (usec + 999) // 1000)
    if n < 0:
        return -EINVAL
    softirq.do_softirq()
    mx = len(fdtable.current.files.fd)
    if mx < 64:
        mx = 64  # fdt->max_fds starts at BITS_PER_LONG (x86_64) and grows from there
    if n > mx:
        n = mx
    r = do_select(n, inp, outp, exp, end)
    if isinstance(r, int):
        return r
    left = None
    if end is not None:
        ms = _left(end)
        left = (ms // 1000, (ms % 1000) * 1000)
    return r + (left,)
