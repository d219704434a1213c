# fs/file.c, fs/file_table.c, fs/fcntl.c: one process's files. fds are
# indices into files_struct.fd (lowest free first, bounded by RLIMIT_NOFILE);
# each slot holds a struct file whose f_op dispatches read/write/poll/release.
# Negative errno on failure, as everywhere inside ksock.
from ksock.compat import const, PLATFORM
from ksock.uapi.errno import EBADF, EMFILE, EINVAL, EPERM, EOPNOTSUPP
from ksock.uapi.fcntl import (O_ACCMODE, O_RDWR, O_CLOEXEC, SETFL_MASK, O_DIRECT, F_DUPFD,
                              F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, FD_CLOEXEC,
                              NR_OPEN)

CAP_NET_BIND_SERVICE = const(10)
CAP_NET_ADMIN = const(12)
CAP_NET_RAW = const(13)
_CAP_ALL = const(0x3FFF)

# Boards have little heap: a small fd limit; the unix port keeps Linux's 1024.
NR_OPEN_DEFAULT = 1024 if PLATFORM == "linux" else 16
_FD_CHUNK = const(16)  # the fd array grows by this (expand_files)


def _no_op(*a):
    return -EOPNOTSUPP


class file_operations:
    """struct file_operations: missing entries answer -EOPNOTSUPP (or nothing)."""
    __slots__ = ("name", "read", "write", "poll", "ioctl", "release")

    def __init__(self, name, read=_no_op, write=_no_op, poll=None, ioctl=_no_op, release=None):
        self.name = name
        self.read = read
        self.write = write
        self.poll = poll
        self.ioctl = ioctl
        self.release = release


class file:
    """struct file: open-file description shared by dup'ed fds (f_count)."""
    __slots__ = ("f_op", "f_flags", "f_count", "private_data")

    def __init__(self, fop, flags, private_data):
        self.f_op = fop
        self.f_flags = flags
        self.f_count = 1
        self.private_data = private_data


def alloc_file(fop, flags, private_data):
    """alloc_file_pseudo(): a new struct file; O_CLOEXEC belongs to the fd, not here."""
    return file(fop, flags & ~O_CLOEXEC, private_data)


def fget(f):
    f.f_count += 1
    return f


def fput(f):
    """Drop a reference; the last one calls f_op->release (sock_close, pipe_release)."""
    f.f_count -= 1
    if f.f_count == 0 and f.f_op.release is not None:
        f.f_op.release(f)


class files_struct:
    """The fd array and its close-on-exec bits (struct fdtable, one per process)."""
    __slots__ = ("fd", "cloexec", "next_fd")

    def __init__(self):
        self.fd = [None] * _FD_CHUNK
        self.cloexec = bytearray(_FD_CHUNK)
        self.next_fd = 0


class task_struct:
    """The one process ksock serves: its files, RLIMIT_NOFILE, uid/gid, capabilities."""
    __slots__ = ("files", "rlim_nofile", "cap_effective", "uid", "gid")

    def __init__(self):
        self.files = files_struct()
        self.rlim_nofile = NR_OPEN_DEFAULT
        self.cap_effective = _CAP_ALL
        self.uid = 0
        self.gid = 0


current = task_struct()


def capable(cap):
    return (current.cap_effective >> cap) & 1


def cap_set(cap, on):
    """Grant (on) or drop the capability `cap` (CAP_NET_BIND_SERVICE, CAP_NET_RAW...)."""
    if on:
        current.cap_effective |= 1 << cap
    else:
        current.cap_effective &= ~(1 << cap)


def rlimit_nofile():
    return current.rlim_nofile


def do_prlimit_nofile(n):
    """setrlimit(RLIMIT_NOFILE, n): open fds above n stay open, as in Linux."""
    if n < 0:
        return -EINVAL
    if n > NR_OPEN:
        return -EPERM
    current.rlim_nofile = n
    return 0


def _expand_files(fdt, nr):
    """Grow the fd array to hold index `nr` (expand_fdtable)."""
    n = len(fdt.fd)
    if nr < n:
        return
    new = (nr // _FD_CHUNK + 1) * _FD_CHUNK
    fdt.fd.extend([None] * (new - n))
    fdt.cloexec.extend(bytes(new - n))


def alloc_fd(start, end, flags):
    """Lowest free fd in [start, end): -EMFILE when there is none."""
    fdt = current.files
    fd = start if start > fdt.next_fd else fdt.next_fd
    slots = fdt.fd
    n = len(slots)
    while fd < n and slots[fd] is not None:
        fd += 1
    if fd >= end:
        return -EMFILE
    _expand_files(fdt, fd)
    if start <= fdt.next_fd:
        fdt.next_fd = fd + 1
    fdt.fd[fd] = _RESERVED
    fdt.cloexec[fd] = 1 if flags & O_CLOEXEC else 0
    return fd


_RESERVED = file(file_operations("reserved"), 0, None)  # the slot is taken, not yet installed


def get_unused_fd_flags(flags):
    return alloc_fd(0, current.rlim_nofile, flags)


def put_unused_fd(fd):
    fdt = current.files
    fdt.fd[fd] = None
    if fd < fdt.next_fd:
        fdt.next_fd = fd


def fd_install(fd, f):
    """Fill a reserved slot: consumes the caller's reference on `f`."""
    current.files.fd[fd] = f


def fdget(fd):
    """The struct file behind `fd`, or None (single-threaded: no reference taken)."""
    slots = current.files.fd
    if fd < 0 or fd >= len(slots):
        return None
    f = slots[fd]
    if f is _RESERVED:
        return None
    return f


def close_fd(fd):
    f = fdget(fd)
    if f is None:
        return -EBADF
    put_unused_fd(fd)
    current.files.cloexec[fd] = 0
    fput(f)
    return 0


def close_range(first, last):
    """close_range(2) without flags: close every open fd in [first, last]."""
    slots = current.files.fd
    for fd in range(first, min(last + 1, len(slots))):
        if fdget(fd) is not None:
            close_fd(fd)
    return 0


def _do_dup2(f, fd, flags):
    fdt = current.files
    _expand_files(fdt, fd)
    old = fdget(fd)
    fdt.fd[fd] = fget(f)
    fdt.cloexec[fd] = 1 if flags & O_CLOEXEC else 0
    if old is not None:
        fput(old)
    return fd


def ksys_dup3(oldfd, newfd, flags):
    if flags & ~O_CLOEXEC:
        return -EINVAL
    if oldfd == newfd:
        return -EINVAL
    if newfd < 0 or newfd >= current.rlim_nofile:
        return -EBADF
    f = fdget(oldfd)
    if f is None:
        return -EBADF
    fdt = current.files
    if newfd < len(fdt.fd) and fdt.fd[newfd] is _RESERVED:
        return -16  # EBUSY: a racing open holds the slot
    return _do_dup2(f, newfd, flags)


def ksys_dup2(oldfd, newfd):
    if oldfd == newfd:
        return oldfd if fdget(oldfd) is not None else -EBADF
    return ksys_dup3(oldfd, newfd, 0)


def ksys_dup(fd):
    f = fdget(fd)
    if f is None:
        return -EBADF
    nfd = get_unused_fd_flags(0)
    if nfd >= 0:
        fd_install(nfd, fget(f))
    return nfd


def f_dupfd(start, f, flags):
    if start < 0 or start >= current.rlim_nofile:
        return -EINVAL
    nfd = alloc_fd(start, current.rlim_nofile, flags)
    if nfd >= 0:
        fd_install(nfd, fget(f))
    return nfd


def do_fcntl(fd, cmd, arg):
    f = fdget(fd)
    if f is None:
        return -EBADF
    if cmd == F_DUPFD or cmd == F_DUPFD_CLOEXEC:
        return f_dupfd(arg, f, O_CLOEXEC if cmd == F_DUPFD_CLOEXEC else 0)
    if cmd == F_GETFD:
        return FD_CLOEXEC if current.files.cloexec[fd] else 0
    if cmd == F_SETFD:
        current.files.cloexec[fd] = 1 if arg & FD_CLOEXEC else 0
        return 0
    if cmd == F_GETFL:
        return f.f_flags
    if cmd == F_SETFL:
        if arg & O_DIRECT:
            return -EINVAL  # no direct_IO on sockets or pipes
        f.f_flags = (arg & SETFL_MASK) | (f.f_flags & ~SETFL_MASK)
        return 0
    return -EINVAL


# ---- fds 0, 1, 2: the console, a non-socket character device -----------------------

def _console_write(f, buf):
    print(bytes(buf).decode(), end="")
    return len(buf)


console_fops = file_operations("console", write=_console_write)


def files_init():
    """A fresh process: fds 0-2 on the console, nothing else open."""
    fdt = current.files = files_struct()
    for fd in range(3):
        fdt.fd[fd] = file(console_fops, O_RDWR, None)
    fdt.next_fd = 3


def fd_in_use():
    """Number of open fds (for tests and `ss`-like views)."""
    return sum(1 for f in current.files.fd if f is not None)


files_init()
