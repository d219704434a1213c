# net/socket.c: sockfs (an inode pool of struct socket), the family registry
# (net_families) and the socket system calls up to the proto_ops dispatch.
# Everything answers 0/value or a negative errno; ksock.sys raises OSError.
from ksock.compat import const, PLATFORM
from ksock.uapi.errno import (EINVAL, EAFNOSUPPORT, ENFILE, ENOBUFS, EEXIST, ENOTSOCK, EBADF,
                              EOPNOTSUPP, EFAULT, ENOSYS, ECONNABORTED, EAGAIN, EINPROGRESS, ENOMEM)
from ksock.uapi.socket import (NPROTO, SOCK_MAX, SOCK_TYPE_MASK, SOCK_NONBLOCK, SOCK_CLOEXEC,
                               AF_INET, AF_PACKET, SOCK_PACKET, SS_UNCONNECTED, SS_FREE, SOL_SOCKET,
                               SOCKADDR_STORAGE_SIZE, SYS_SOCKET, SYS_BIND, SYS_LISTEN,
                               SYS_GETSOCKNAME, SYS_GETPEERNAME, SYS_SHUTDOWN, SYS_SETSOCKOPT,
                               SYS_GETSOCKOPT, SYS_SENDMMSG)
from ksock.uapi.fcntl import O_RDWR, O_NONBLOCK, O_CLOEXEC
from ksock.fs import fdtable
from ksock.kernel import softirq
from ksock.net.core import sysctl
from ksock.net.core.sock import sock_setsockopt, sock_getsockopt, sk_sleep
from ksock.fs.select import poll_wait, poll_register_sock_fops
from ksock.fs.eventpoll import eventpoll_release

S_IFSOCK = const(0o140000)
# sock_inode_cachep capacity: ENFILE beyond it. Boards: a handful of sockets.
SOCK_INODES_MAX = 1024 if PLATFORM == "linux" else 16


# ---- proto_ops: the BSD-socket operations of a family/type (include/linux/net.h) ----

def sock_no_bind(sock, addr, addr_len):
    return -EOPNOTSUPP


def sock_no_connect(sock, addr, addr_len, flags):
    return -EOPNOTSUPP


def sock_no_socketpair(sock1, sock2):
    return -EOPNOTSUPP


def sock_no_accept(sock, newsock, flags):
    return -EOPNOTSUPP


def sock_no_getname(sock, peer):
    return -EOPNOTSUPP


def sock_no_ioctl(sock, cmd, arg):
    return -EOPNOTSUPP


def sock_no_listen(sock, backlog):
    return -EOPNOTSUPP


def sock_no_shutdown(sock, how):
    return -EOPNOTSUPP


def sock_no_sendmsg(sock, msg, flags):
    return -EOPNOTSUPP


def sock_no_recvmsg(sock, n, flags):
    return -EOPNOTSUPP


def sock_no_poll(file, sock):
    return 0


def sock_no_release(sock):
    return 0


def sock_no_setsockopt(sock, level, optname, optval, optlen):
    return -EOPNOTSUPP


def sock_no_getsockopt(sock, level, optname, optlen):
    return -EOPNOTSUPP


_OPS_DEFAULTS = (
    ("release", sock_no_release), ("bind", sock_no_bind), ("connect", sock_no_connect),
    ("socketpair", sock_no_socketpair), ("accept", sock_no_accept), ("getname", sock_no_getname),
    ("poll", sock_no_poll), ("ioctl", sock_no_ioctl), ("listen", sock_no_listen),
    ("shutdown", sock_no_shutdown), ("setsockopt", sock_no_setsockopt),
    ("getsockopt", sock_no_getsockopt), ("sendmsg", sock_no_sendmsg), ("recvmsg", sock_no_recvmsg),
)


class proto_ops:
    """struct proto_ops: built once at import; unnamed entries are the sock_no_* ones."""

    def __init__(self, family, **kw):
        self.family = family
        for name, dflt in _OPS_DEFAULTS:
            setattr(self, name, kw.pop(name, dflt))
        if kw:
            raise TypeError("unknown proto_ops entries: %r" % list(kw))


class net_proto_family:
    __slots__ = ("family", "create")

    def __init__(self, family, create):
        self.family = family
        self.create = create


net_families = [None] * NPROTO


def sock_register(ops):
    """Add a family's create(); -ENOBUFS past NPROTO, -EEXIST if taken."""
    if ops.family < 0 or ops.family >= NPROTO:
        return -ENOBUFS
    if net_families[ops.family] is not None:
        return -EEXIST
    net_families[ops.family] = ops
    return 0


def sock_unregister(family):
    if 0 <= family < NPROTO:
        net_families[family] = None


# ---- sockfs: struct socket + its inode, from a fixed-capacity pool ----------------

class socket:
    """struct socket (socket_alloc: the socket and its sockfs inode in one object).
    Defaults are class attributes: an idle socket stores only what differs."""
    state = SS_FREE
    type = 0
    flags = 0
    file = None
    sk = None
    ops = None
    i_ino = 0
    i_mode = S_IFSOCK | 0o777
    wq = None  # wait_queue_head, allocated by sk_sleep() on the first wait


class _inode_cache:
    __slots__ = ("free", "nr", "max", "next_ino")

    def __init__(self, cap):
        self.free = []  # released sockets, reused first (kmem_cache free list)
        self.nr = 0  # objects in use
        self.max = cap
        self.next_ino = 0


sock_inode_cachep = _inode_cache(SOCK_INODES_MAX)


def sockfs_set_max(n):
    """Resize the inode pool's capacity (the board default is small)."""
    sock_inode_cachep.max = n


def sockets_in_use():
    return sock_inode_cachep.nr


def sock_alloc():
    """A new socket (state SS_UNCONNECTED, fresh i_ino), or None when the pool is empty."""
    c = sock_inode_cachep
    if c.nr >= c.max:
        return None
    c.nr += 1
    s = c.free.pop() if c.free else socket()
    c.next_ino += 1
    s.i_ino = c.next_ino
    s.state = SS_UNCONNECTED
    return s


def sock_release(sock):
    """Release the protocol side, then give the inode back to the pool."""
    ops = sock.ops
    if ops is not None:
        ops.release(sock)
        sock.ops = None
    sock.sk = None
    sock.file = None
    sock.type = 0
    sock.flags = 0
    sock.state = SS_FREE
    c = sock_inode_cachep
    c.nr -= 1
    c.free.append(sock)


# ---- socket_file_ops: the file side (read/write/poll/ioctl/release) ----------------

class msghdr:
    """struct msghdr: msg_name is a raw sockaddr (bytes) or None; msg_iov a list of
    buffers (writable ones for recvmsg); msg_flags comes back (MSG_TRUNC...)."""
    __slots__ = ("msg_name", "msg_namelen", "msg_iov", "msg_flags")

    def __init__(self, iov, name=None, namelen=0):
        self.msg_iov = iov
        self.msg_name = name
        self.msg_namelen = namelen
        self.msg_flags = 0


MSG_DONTWAIT = const(0x40)
UIO_MAXIOV = const(1024)


def _file_flags(f, flags):
    return flags | MSG_DONTWAIT if f.f_flags & O_NONBLOCK else flags


# Progress from syscalls (kernel/softirq.py): a call that would answer EAGAIN
# runs one softirq pass and asks again once (the frames an interrupt would have
# brought in by now); a send runs one after queueing (ACKs, window updates).
# Blocking calls spin the loop in their own waits.

def sock_sendmsg(sock, msg, flags):
    r = sock.ops.sendmsg(sock, msg, flags)
    if r == -EAGAIN:
        if softirq.do_softirq():
            r = sock.ops.sendmsg(sock, msg, flags)
    elif r > 0:
        softirq.do_softirq()
    return r


def sock_recvmsg(sock, msg, flags):
    r = sock.ops.recvmsg(sock, msg, flags)
    if r == -EAGAIN and softirq.do_softirq():
        r = sock.ops.recvmsg(sock, msg, flags)
    return r


def sock_read(f, n):
    sock = f.private_data
    buf = bytearray(n)
    m = msghdr([buf])
    r = sock_recvmsg(sock, m, _file_flags(f, 0))
    return r if r < 0 else bytes(buf[:r])


def sock_write(f, data):
    sock = f.private_data
    return sock_sendmsg(sock, msghdr([data]), _file_flags(f, 0))


def sock_poll(f, pt=None):
    """f_op->poll: register on sk_sleep(sk) (sock_poll_wait), then ops->poll's mask.
    Protocol polls (tcp_poll, udp_poll) need not call poll_wait themselves."""
    sock = f.private_data
    if pt is not None and pt._qproc is not None and sock.sk is not None:
        poll_wait(f, sk_sleep(sock.sk), pt)
    return sock.ops.poll(f, sock)


FIONBIO = const(0x5421)
FIONREAD = const(0x541B)  # == SIOCINQ
SIOCOUTQ = const(0x5411)
ENOIOCTLCMD = const(515)
ENOTTY = const(25)


def sock_ioctl(f, cmd, arg):
    """FIONBIO is the file's (do_vfs_ioctl); the rest goes to ops->ioctl, then to
    sk_prot->ioctl (inet_ioctl's default); unknown commands answer ENOTTY."""
    if cmd == FIONBIO:
        if arg:
            f.f_flags |= O_NONBLOCK
        else:
            f.f_flags &= ~O_NONBLOCK
        return 0
    sock = f.private_data
    err = sock.ops.ioctl(sock, cmd, arg)
    if err == -EOPNOTSUPP or err == -ENOIOCTLCMD:
        sk = sock.sk
        pio = getattr(sk.sk_prot, "ioctl", None) if sk is not None else None
        err = pio(sk, cmd, arg) if pio is not None else -ENOIOCTLCMD
    if err == -ENOIOCTLCMD:
        err = -ENOTTY
    return err


def sock_close(f):
    eventpoll_release(f)  # epoll drops its items on this file
    sock_release(f.private_data)


def sock_fstat(f):
    """(st_mode, st_ino) of a socket's sockfs inode."""
    sock = f.private_data
    return sock.i_mode, sock.i_ino


def sock_show_fdinfo(f):
    """/proc/self/fdinfo/N of a socket: pos, flags (octal), ino."""
    return "pos:\t0\nflags:\t0%o\nmnt_id:\t8\nino:\t%d\n" % (f.f_flags, f.private_data.i_ino)


socket_file_ops = fdtable.file_operations("socket", read=sock_read, write=sock_write, poll=sock_poll,
                                          ioctl=sock_ioctl, release=sock_close)
poll_register_sock_fops(socket_file_ops)


def sock_alloc_file(sock, flags):
    f = fdtable.alloc_file(socket_file_ops, O_RDWR | (flags & O_NONBLOCK), sock)
    sock.file = f
    return f


def sock_from_file(f):
    return f.private_data if f.f_op is socket_file_ops else None


def sockfd_lookup_light(fd):
    """(sock, 0) or (None, -EBADF / -ENOTSOCK)."""
    f = fdtable.fdget(fd)
    if f is None:
        return None, -EBADF
    s = sock_from_file(f)
    if s is None:
        return None, -ENOTSOCK
    return s, 0


def sock_map_fd(sock, flags):
    fd = fdtable.get_unused_fd_flags(flags)
    if fd < 0:
        sock_release(sock)
        return fd
    fdtable.fd_install(fd, sock_alloc_file(sock, flags))
    return fd


# ---- socket(2) ---------------------------------------------------------------------

def __sock_create(family, type, protocol, kern=0):
    """(sock, 0) or (None, -errno): pool inode, then net_families[family].create()."""
    if family < 0 or family >= NPROTO:
        return None, -EAFNOSUPPORT
    if type < 0 or type >= SOCK_MAX:
        return None, -EINVAL
    if family == AF_INET and type == SOCK_PACKET:
        family = AF_PACKET  # compatibility: SOCK_PACKET was an inet type once
    sock = sock_alloc()
    if sock is None:
        return None, -ENFILE
    sock.type = type
    pf = net_families[family]
    if pf is None:
        sock_release(sock)
        return None, -EAFNOSUPPORT
    err = pf.create(sock, protocol, kern)
    if err < 0:
        sock_release(sock)
        return None, err
    return sock, 0


def sock_create(family, type, protocol):
    return __sock_create(family, type, protocol, 0)


def sock_create_kern(family, type, protocol):
    return __sock_create(family, type, protocol, 1)


def __sys_socket(family, type, protocol):
    flags = type & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        return -EINVAL
    type &= SOCK_TYPE_MASK
    sock, err = sock_create(family, type, protocol)
    if err < 0:
        return err
    return sock_map_fd(sock, flags & (O_CLOEXEC | O_NONBLOCK))


# ---- addresses across the "user" boundary ------------------------------------------

def move_addr_to_kernel(uaddr, ulen):
    """(kaddr, 0): a sockaddr_storage-sized copy of the first ulen bytes, or (None, -errno)."""
    if ulen < 0 or ulen > SOCKADDR_STORAGE_SIZE:
        return None, -EINVAL
    if ulen > len(uaddr):
        return None, -EFAULT  # the "user" buffer is shorter than the length claimed
    k = bytearray(SOCKADDR_STORAGE_SIZE)
    k[:ulen] = uaddr[:ulen]
    return k, 0


def move_addr_to_user(kaddr, klen, ulen):
    """(bytes copied, klen) for a user buffer of ulen bytes; -EINVAL if ulen < 0.
    The length returned is the untruncated one ("fromlen shall refer to the value
    before truncation", 1003.1g)."""
    ln = klen if ulen > klen else ulen
    if ln < 0:
        return -EINVAL
    return (bytes(kaddr[:ln]), klen)


# ---- bind, listen, names, options, shutdown ---------------------------------------

def __sys_bind(fd, uaddr, addrlen):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    kaddr, err = move_addr_to_kernel(uaddr, addrlen)
    if err:
        return err
    return sock.ops.bind(sock, kaddr, addrlen)


def __sys_listen(fd, backlog):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    somaxconn = sysctl.somaxconn()
    if (backlog & 0xFFFFFFFF) > somaxconn:  # (unsigned int)backlog > somaxconn
        backlog = somaxconn
    return sock.ops.listen(sock, backlog)


def __sys_getname(fd, ulen, peer):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    kaddr = sock.ops.getname(sock, peer)
    if isinstance(kaddr, int):
        return kaddr
    return move_addr_to_user(kaddr, len(kaddr), ulen)


def __sys_getsockname(fd, ulen):
    return __sys_getname(fd, ulen, 0)


def __sys_getpeername(fd, ulen):
    return __sys_getname(fd, ulen, 1)


def __sys_setsockopt(fd, level, optname, optval, optlen):
    if optlen < 0:
        return -EINVAL
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    if optlen > len(optval):
        return -EFAULT
    if level == SOL_SOCKET:
        return sock_setsockopt(sock, optname, optval, optlen)
    return sock.ops.setsockopt(sock, level, optname, optval, optlen)


def __sys_getsockopt(fd, level, optname, optlen):
    """The option's bytes (at most optlen of them) or a negative errno."""
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    if level == SOL_SOCKET:
        return sock_getsockopt(sock, optname, optlen)
    return sock.ops.getsockopt(sock, level, optname, optlen)


def __sys_shutdown(fd, how):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    return sock.ops.shutdown(sock, how)


# ---- connect/send/recv: sockfd_lookup_light, move_addr_to_kernel, sock->ops ----

def __sys_connect(fd, uaddr, addrlen):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    k, err = move_addr_to_kernel(uaddr, addrlen)
    if err < 0:
        return err
    r = sock.ops.connect(sock, k, addrlen, sock.file.f_flags)
    if r == -EINPROGRESS:
        softirq.do_softirq()  # the SYN (and its ARP) went out; let the answer in
    return r


def __sys_sendto(fd, buf, flags, uaddr=None, addrlen=0):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    k = None
    if uaddr is not None:
        k, err = move_addr_to_kernel(uaddr, addrlen)
        if err < 0:
            return err
    return sock_sendmsg(sock, msghdr([buf], k, addrlen), _file_flags(sock.file, flags))


def __sys_sendmsg(fd, msg, flags):
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    if len(msg.msg_iov) > UIO_MAXIOV:
        return -EINVAL
    if msg.msg_name is not None:
        k, err = move_addr_to_kernel(msg.msg_name, msg.msg_namelen)
        if err < 0:
            return err
        msg.msg_name = k
    return sock_sendmsg(sock, msg, _file_flags(sock.file, flags))


def __sys_recvmsg(fd, msg, flags):
    """n or -errno; msg.msg_name gets the peer's sockaddr (bytes) when known."""
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    if len(msg.msg_iov) > UIO_MAXIOV:
        return -EINVAL
    return sock_recvmsg(sock, msg, _file_flags(sock.file, flags))


def __sys_accept4(fd, ulen, flags):
    """do_accept(): (newfd, (addr bytes, klen) or None) or -errno. ulen < 0: no
    address wanted (upeer_sockaddr NULL). The fd is reserved before the wait and
    installed only once the child is grafted."""
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        return -EINVAL
    sock, err = sockfd_lookup_light(fd)
    if sock is None:
        return err
    newsock = sock_alloc()
    if newsock is None:
        return -ENFILE
    newsock.type = sock.type
    newsock.ops = sock.ops
    newfd = fdtable.get_unused_fd_flags(flags)
    if newfd < 0:
        sock_release(newsock)
        return newfd
    # the file before the child is taken off the queue, as Linux's do_accept: no
    # allocation failure after that point can lose an accepted connection
    try:
        newfile = sock_alloc_file(newsock, flags & (O_CLOEXEC | O_NONBLOCK))
    except MemoryError:
        fdtable.put_unused_fd(newfd)
        sock_release(newsock)
        return -ENOMEM
    fl = sock.file.f_flags | (flags & O_NONBLOCK)
    err = sock.ops.accept(sock, newsock, fl)
    if err == -EAGAIN and softirq.do_softirq():
        err = sock.ops.accept(sock, newsock, fl)
    if err < 0:
        fdtable.put_unused_fd(newfd)
        sock_release(newsock)
        return err
    name = None
    if ulen >= 0:
        try:
            kaddr = newsock.ops.getname(newsock, 2)
            if isinstance(kaddr, int):
                err = -ECONNABORTED
            else:
                name = move_addr_to_user(kaddr, len(kaddr), ulen)
        except MemoryError:
            err = -ENOMEM
        if err:  # as do_accept's out_fd: the file goes, and with it the connection
            fdtable.put_unused_fd(newfd)
            fdtable.fput(newfile)
            return err
    fdtable.fd_install(newfd, newfile)
    return newfd, name


def __sys_socketpair(family, type, protocol):
    """(fd1, fd2) or -errno: two sockets joined by ops->socketpair (AF_UNIX)."""
    flags = type & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        return -EINVAL
    type &= SOCK_TYPE_MASK
    flags &= O_CLOEXEC | O_NONBLOCK
    fd1 = fdtable.get_unused_fd_flags(flags)
    if fd1 < 0:
        return fd1
    fd2 = fdtable.get_unused_fd_flags(flags)
    if fd2 < 0:
        fdtable.put_unused_fd(fd1)
        return fd2
    sock1, err = sock_create(family, type, protocol)
    if err == 0:
        sock2, err = sock_create(family, type, protocol)
        if err == 0:
            err = sock1.ops.socketpair(sock1, sock2)
            if err < 0:
                sock_release(sock2)
        if err < 0:
            sock_release(sock1)
    if err < 0:
        fdtable.put_unused_fd(fd2)
        fdtable.put_unused_fd(fd1)
        return err
    fdtable.fd_install(fd1, sock_alloc_file(sock1, flags))
    fdtable.fd_install(fd2, sock_alloc_file(sock2, flags))
    return fd1, fd2


# ---- socketcall(2): the multiplexor ------------------------------------------------
# nargs[] as in net/socket.c (in longs); we check the argument count against it.
_nargs = (0, 3, 3, 3, 2, 3, 3, 3, 4, 4, 4, 6, 6, 2, 5, 5, 3, 3, 4, 5, 4)


def __sys_socketcall(call, a):
    """`a` holds the calls' arguments with addresses already as (bytes, len):
    SYS_BIND (fd, addr, addrlen); SYS_GETSOCKNAME (fd, buflen); SYS_SETSOCKOPT
    (fd, level, opt, optval, optlen); SYS_GETSOCKOPT (fd, level, opt, optlen)."""
    if call < 1 or call > SYS_SENDMMSG:
        return -EINVAL
    if len(a) < _nargs[call] - (1 if call in (SYS_GETSOCKNAME, SYS_GETPEERNAME, SYS_GETSOCKOPT) else 0):
        return -EFAULT
    if call == SYS_SOCKET:
        return __sys_socket(a[0], a[1], a[2])
    if call == SYS_BIND:
        return __sys_bind(a[0], a[1], a[2])
    if call == SYS_LISTEN:
        return __sys_listen(a[0], a[1])
    if call == SYS_GETSOCKNAME:
        return __sys_getsockname(a[0], a[1])
    if call == SYS_GETPEERNAME:
        return __sys_getpeername(a[0], a[1])
    if call == SYS_SHUTDOWN:
        return __sys_shutdown(a[0], a[1])
    if call == SYS_SETSOCKOPT:
        return __sys_setsockopt(a[0], a[1], a[2], a[3], a[4])
    if call == SYS_GETSOCKOPT:
        return __sys_getsockopt(a[0], a[1], a[2], a[3])
    return -ENOSYS  # connect/accept/send/recv arrive with the data path
