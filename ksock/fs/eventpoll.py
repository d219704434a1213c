# fs/eventpoll.c: epoll. Each watched file gets one epitem, which is also the
# entry on the file's wait queue; its callback (ep_poll_callback) puts the item
# on the ready list when an event it watches happens. epoll_wait only looks at
# the ready list, so its cost grows with the ready files, not the watched ones.
from ksock.compat import const
from ksock.uapi.errno import EINVAL, EBADF, EPERM, EEXIST, ENOENT
from ksock.uapi.fcntl import O_RDWR, O_CLOEXEC
from ksock.kernel import wait, softirq
from ksock.fs import fdtable
from ksock.fs.select import poll_table, poll_wait, vfs_poll, _end_time, _left

EPOLLIN = const(0x1)
EPOLLOUT = const(0x4)
EPOLLERR = const(0x8)
EPOLLHUP = const(0x10)
EPOLLRDNORM = const(0x40)
EPOLLEXCLUSIVE = const(1 << 28)
EPOLLWAKEUP = const(1 << 29)
EPOLLONESHOT = const(1 << 30)
EPOLLET = const(1 << 31)
EP_PRIVATE_BITS = const(EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
EPOLLEXCLUSIVE_OK_BITS = const(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)
EPOLL_CTL_ADD = const(1)
EPOLL_CTL_DEL = const(2)
EPOLL_CTL_MOD = const(3)
EPOLL_CLOEXEC = const(0o2000000)
EP_MAX_EVENTS = const(0x7FFFFFFF // 12)  # INT_MAX / sizeof(struct epoll_event)

_file_epis = {}  # struct file -> [epitem]: Linux's file->f_ep, for eventpoll_release


class epitem(wait.wait_queue_entry):
    """struct epitem + its eppoll_entry: the item is the wait-queue entry."""
    rdl = False  # on ep.rdllist
    whead = None  # the wait queue it sits on

    def __init__(self, ep, fd, f, events, data):
        self.func = ep_poll_callback
        self.ep = ep
        self.fd = fd
        self.file = f
        self.events = events
        self.data = data


class eventpoll:
    poll_wait = None  # wait queue of pollers of the epoll fd itself (nested)

    def __init__(self):
        self.rdllist = []
        self.items = {}  # (fd, file) -> epitem (the kernel's rbtree)


def _ready(ep, epi):
    epi.rdl = True
    ep.rdllist.append(epi)
    pw = ep.poll_wait
    if pw is not None and pw.head:
        wait.wake_up_interruptible_poll(pw, EPOLLIN | EPOLLRDNORM)


def ep_poll_callback(epi, mode, sync, key):
    events = epi.events
    if not (events & ~EP_PRIVATE_BITS):
        return 0  # disarmed by EPOLLONESHOT until the next EPOLL_CTL_MOD
    if key and not (key & events):
        return 0
    if not epi.rdl:
        _ready(epi.ep, epi)
    return 1


def ep_ptable_queue_proc(f, whead, pt):
    epi = pt.epi
    if epi.whead is None:
        epi.whead = whead
        if epi.events & EPOLLEXCLUSIVE:
            wait.add_wait_queue_exclusive(whead, epi)
        else:
            wait.add_wait_queue(whead, epi)


def ep_item_poll(epi, pt):
    if pt is not None:
        pt._key = epi.events
    return vfs_poll(epi.file, pt) & epi.events


def ep_insert(ep, events, data, fd, f):
    epi = epitem(ep, fd, f, events, data)
    ep.items[(fd, f)] = epi
    lst = _file_epis.get(f)
    if lst is None:
        _file_epis[f] = [epi]
    else:
        lst.append(epi)
    pt = poll_table(ep_ptable_queue_proc)
    pt.epi = epi
    if ep_item_poll(epi, pt) and not epi.rdl:
        _ready(ep, epi)
    return 0


def ep_remove(ep, epi):
    if epi.whead is not None:
        wait.remove_wait_queue(epi.whead, epi)
        epi.whead = None
    ep.items.pop((epi.fd, epi.file), None)
    lst = _file_epis.get(epi.file)
    if lst is not None:
        if epi in lst:
            lst.remove(epi)
        if not lst:
            del _file_epis[epi.file]
    if epi.rdl:
        ep.rdllist.remove(epi)
        epi.rdl = False


def ep_modify(ep, epi, events, data):
    epi.events = events
    epi.data = data
    if ep_item_poll(epi, None) and not epi.rdl:
        _ready(ep, epi)
    return 0


def eventpoll_release(f):
    """The last reference to `f` is going: drop it from every epoll set."""
    if _file_epis:
        lst = _file_epis.pop(f, None)
        if lst:
            for epi in lst:
                ep_remove(epi.ep, epi)


# ---- the epoll file ----------------------------------------------------------------

def ep_eventpoll_poll(f, pt=None):
    ep = f.private_data
    if pt is not None and pt._qproc is not None:
        if ep.poll_wait is None:
            ep.poll_wait = wait.wait_queue_head()
        poll_wait(f, ep.poll_wait, pt)
    for epi in ep.rdllist:
        if ep_item_poll(epi, None):
            return EPOLLIN | EPOLLRDNORM
    return 0


def ep_eventpoll_release(f):
    eventpoll_release(f)
    ep = f.private_data
    items = ep.items
    while items:  # one at a time, no copy of the set: close(2) on a full heap must not fail
        ep_remove(ep, items.popitem()[1])


eventpoll_fops = fdtable.file_operations("[eventpoll]", poll=ep_eventpoll_poll, release=ep_eventpoll_release)


def is_file_epoll(f):
    return f.f_op is eventpoll_fops


def do_epoll_create(flags):
    if flags & ~EPOLL_CLOEXEC:
        return -EINVAL
    fd = fdtable.get_unused_fd_flags(O_RDWR | (flags & O_CLOEXEC))
    if fd < 0:
        return fd
    fdtable.fd_install(fd, fdtable.alloc_file(eventpoll_fops, O_RDWR, eventpoll()))
    return fd


def do_epoll_ctl(epfd, op, fd, events, data):
    f = fdtable.fdget(epfd)
    if f is None:
        return -EBADF
    tf = fdtable.fdget(fd)
    if tf is None:
        return -EBADF
    if tf.f_op.poll is None:
        return -EPERM  # file_can_poll()
    if f is tf or not is_file_epoll(f):
        return -EINVAL
    events &= 0xFFFFFFFF
    has_event = op != EPOLL_CTL_DEL
    if has_event and events & EPOLLEXCLUSIVE:
        if op == EPOLL_CTL_MOD:
            return -EINVAL
        if op == EPOLL_CTL_ADD and (is_file_epoll(tf) or events & ~EPOLLEXCLUSIVE_OK_BITS):
            return -EINVAL
    softirq.do_softirq()  # pending receive work first, as after a Linux syscall
    ep = f.private_data
    epi = ep.items.get((fd, tf))
    if op == EPOLL_CTL_ADD:
        if epi is not None:
            return -EEXIST
        return ep_insert(ep, events | EPOLLERR | EPOLLHUP, data, fd, tf)
    if op == EPOLL_CTL_DEL:
        if epi is None:
            return -ENOENT
        ep_remove(ep, epi)
        return 0
    if op == EPOLL_CTL_MOD:
        if epi is None:
            return -ENOENT
        if epi.events & EPOLLEXCLUSIVE:
            return 0
        return ep_modify(ep, epi, events | EPOLLERR | EPOLLHUP, data)
    return -EINVAL


def ep_send_events(ep, maxevents):
    res = []
    tx = ep.rdllist
    ep.rdllist = []
    n = len(tx)
    i = 0
    try:
        while i < n:
            if len(res) >= maxevents:
                ep.rdllist = tx[i:] + ep.rdllist  # the rest stays ready, in order
                break
            epi = tx[i]
            epi.rdl = False
            revents = ep_item_poll(epi, None)
            if revents:
                res.append((epi.data, revents))
                if epi.events & EPOLLONESHOT:
                    epi.events &= EP_PRIVATE_BITS
                elif not epi.events & EPOLLET:
                    epi.rdl = True  # level-triggered: stays on the list, checked next time
                    ep.rdllist.append(epi)
            # (else the event went away before we looked: not ready after all)
            i += 1
    except MemoryError:
        # A full heap mid-way: what was not handed out stays ready, as Linux
        # splices txlist back (ep_done_scan); tx has room for it all, so
        # this allocates nothing. The caller answers ENOMEM.
        for j in range(i, n):
            tx[j].rdl = True
        del tx[:i]
        tx.extend(ep.rdllist)
        ep.rdllist = tx
        raise
    return res


def ep_poll(ep, maxevents, timeout_ms):
    end = _end_time(timeout_ms)
    timed_out = False
    softirq.do_softirq()  # pending receive work first, as after a Linux syscall
    while True:
        if ep.rdllist:
            res = ep_send_events(ep, maxevents)
            if res:
                return res
        if timed_out:
            return []
        left = _left(end)
        softirq.wait_event(lambda: ep.rdllist, left)
        if left == 0 or not ep.rdllist:
            timed_out = True


def do_epoll_wait(epfd, maxevents, timeout_ms):
    """[(data, events)] (at most maxevents) or -errno."""
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        return -EINVAL
    f = fdtable.fdget(epfd)
    if f is None:
        return -EBADF
    if not is_file_epoll(f):
        return -EINVAL
    return ep_poll(f.private_data, maxevents, timeout_ms)
