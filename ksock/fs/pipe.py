# fs/pipe.c: pipe2() — the non-socket file type of the fd table (so ENOTSOCK is
# real), a small ring buffer shared by a read end and a write end.
from ksock.compat import const, PLATFORM
from ksock.uapi.errno import EINVAL, EAGAIN, EPIPE, EBADF
from ksock.uapi.fcntl import O_RDONLY, O_WRONLY, O_NONBLOCK, O_CLOEXEC, O_DIRECT
from ksock.fs import fdtable
from ksock.kernel import wait

PIPE_BUF_SIZE = 4096 if PLATFORM == "linux" else 256
O_NOTIFICATION_PIPE = const(0o40000)  # == O_EXCL in Linux; we accept and ignore it
POLLIN = const(0x1)
POLLOUT = const(0x4)
POLLHUP = const(0x10)
POLLERR = const(0x8)


class pipe_inode_info:
    __slots__ = ("buf", "head", "len", "readers", "writers", "wq")

    def __init__(self):
        self.buf = bytearray(PIPE_BUF_SIZE)
        self.head = 0
        self.len = 0
        self.readers = 1
        self.writers = 1
        self.wq = None  # wait_queue_head, made by the first poll


def _wake(p, key):
    if p.wq is not None and p.wq.head:
        wait.wake_up_interruptible_sync_poll(p.wq, key)


def pipe_read(f, n):
    p = f.private_data
    if p.len == 0:
        return b"" if p.writers == 0 else -EAGAIN  # one thread: nobody could fill it
    n = min(n, p.len)
    out = bytearray(n)
    size = len(p.buf)
    for i in range(n):
        out[i] = p.buf[(p.head + i) % size]
    p.head = (p.head + n) % size
    p.len -= n
    _wake(p, POLLOUT | 0x100)  # EPOLLWRNORM
    return bytes(out)


def pipe_write(f, data):
    p = f.private_data
    if p.readers == 0:
        return -EPIPE
    size = len(p.buf)
    n = min(len(data), size - p.len)
    if n == 0:
        return -EAGAIN
    tail = (p.head + p.len) % size
    for i in range(n):
        p.buf[(tail + i) % size] = data[i]
    p.len += n
    _wake(p, POLLIN | 0x40)  # EPOLLRDNORM
    return n


def pipe_poll(f, pt=None):
    p = f.private_data
    if pt is not None and pt._qproc is not None:
        if p.wq is None:
            p.wq = wait.wait_queue_head()
        pt._qproc(f, p.wq, pt)
    if f.f_op is read_pipefifo_fops:
        return (POLLIN | 0x40 if p.len else 0) | (POLLHUP if p.writers == 0 else 0)  # RDNORM
    return (POLLOUT | 0x100 if p.len < len(p.buf) else 0) | (POLLERR if p.readers == 0 else 0)  # WRNORM


def pipe_release(f):
    p = f.private_data
    if f.f_op is read_pipefifo_fops:
        p.readers -= 1
    else:
        p.writers -= 1
    from ksock.fs.eventpoll import eventpoll_release
    eventpoll_release(f)
    _wake(p, POLLERR | POLLHUP)  # the other end sees the hang-up


read_pipefifo_fops = fdtable.file_operations("pipe:r", read=pipe_read, poll=pipe_poll, release=pipe_release)
write_pipefifo_fops = fdtable.file_operations("pipe:w", write=pipe_write, poll=pipe_poll, release=pipe_release)


def do_pipe2(flags):
    """(rfd, wfd) or a negative errno."""
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE):
        return -EINVAL
    rfd = fdtable.get_unused_fd_flags(flags)
    if rfd < 0:
        return rfd
    wfd = fdtable.get_unused_fd_flags(flags)
    if wfd < 0:
        fdtable.put_unused_fd(rfd)
        return wfd
    p = pipe_inode_info()
    fl = flags & (O_NONBLOCK | O_DIRECT)
    fdtable.fd_install(rfd, fdtable.alloc_file(read_pipefifo_fops, O_RDONLY | fl, p))
    fdtable.fd_install(wfd, fdtable.alloc_file(write_pipefifo_fops, O_WRONLY | fl, p))
    return (rfd, wfd)


def ksys_read(fd, n):
    f = fdtable.fdget(fd)
    if f is None:
        return -EBADF
    return f.f_op.read(f, n)


def ksys_write(fd, data):
    f = fdtable.fdget(fd)
    if f is None:
        return -EBADF
    return f.f_op.write(f, data)
