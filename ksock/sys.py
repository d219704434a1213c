# The system-call layer: integers in, integers out, OSError(errno) on failure
# with Linux's errno numbers. Addresses are (host, port) tuples or the raw bytes
# of a struct sockaddr (then the length checks of move_addr_to_kernel apply).
#
#   from ksock import sys as k
#   fd = k.socket(k.AF_INET, k.SOCK_STREAM, 0); k.bind(fd, ("127.0.0.1", 8080))
#   k.getsockname(fd) -> ("127.0.0.1", 8080); k.getsockname(fd, 4) -> (b"\x02\x00\x1f\x90", 16)
import struct
from ksock.uapi.socket import *  # noqa: F401,F403 (the constants callers need)
from ksock.uapi.in_ import *  # noqa: F401,F403
from ksock.uapi.fcntl import *  # noqa: F401,F403
from ksock.uapi.socket import AF_INET, SYS_BIND, SYS_GETSOCKNAME, SYS_GETPEERNAME, SYS_SETSOCKOPT, SYS_GETSOCKOPT
from ksock.uapi.errno import EINVAL, EFAULT
from ksock.fs import fdtable, pipe as _pipe
from ksock.fs.fdtable import CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_NET_ADMIN  # noqa: F401
from ksock.net import socket as _sock
from ksock.net.core import sysctl as _sysctl
from ksock.net.ipv4 import af_inet as _af_inet  # registers PF_INET  # noqa: F401
from ksock.net.ipv4.devinet import inet_aton, inet_ntoa
from ksock.kernel import softirq as _softirq
from ksock.uapi.errno import ENOMEM as _ENOMEM, ENOBUFS as _ENOBUFS


class _syscall:
    """The syscall boundary: `with _SYS:` around every call that enters the
    stack. It holds local_bh_disable() meanwhile, so a background pass
    (kernel/ksoftirqd.py) never enters the stack while the call is inside it,
    and turns a MemoryError from deep inside into OSError(ENOMEM) -- ENOBUFS on
    the send paths (`with _SEND:`), as Linux's sock_alloc_send_skb -- with the
    guard released. (A `with` costs about 1 us on the unix port; a *args
    wrapper cost 15.)"""

    def __init__(self, err):
        self.err = err

    def __enter__(self):
        _softirq.local_bh_disable()

    def __exit__(self, t, v, tb):
        _softirq.local_bh_enable()
        if t is MemoryError:
            raise OSError(self.err)


_SYS = _syscall(_ENOMEM)
_SEND = _syscall(_ENOBUFS)


def _ret(r):
    if isinstance(r, int) and r < 0:
        raise OSError(-r)
    return r


def sockaddr_in(host, port):
    """The 16 bytes of a struct sockaddr_in (family in host order, little-endian)."""
    if not 0 <= port <= 0xFFFF:
        raise OverflowError("port must be 0-65535")
    return struct.pack("<H", AF_INET) + struct.pack(">H", port) + inet_aton(host) + bytes(8)


def _addr(addr):
    if isinstance(addr, tuple):
        return sockaddr_in(addr[0], addr[1])
    return addr


def _optval(value):
    if isinstance(value, int):
        return struct.pack("<i", value)
    return value


def socket(family, type, proto=0):
    with _SYS:
        return _ret(_sock.__sys_socket(family, type, proto))


def bind(fd, addr, addrlen=None):
    with _SYS:
        a = _addr(addr)
        return _ret(_sock.__sys_bind(fd, a, len(a) if addrlen is None else addrlen))


def listen(fd, backlog=128):
    with _SYS:
        return _ret(_sock.__sys_listen(fd, backlog))


def _name(r, buflen):
    r = _ret(r)
    if buflen is not None:
        return r  # (bytes copied, full length)
    b = r[0]
    return (inet_ntoa(b[4:8]), (b[2] << 8) | b[3])


def getsockname(fd, buflen=None):
    """(host, port); with buflen: (the first min(buflen, len) bytes, len)."""
    return _name(_sock.__sys_getsockname(fd, 128 if buflen is None else buflen), buflen)


def getpeername(fd, buflen=None):
    return _name(_sock.__sys_getpeername(fd, 128 if buflen is None else buflen), buflen)


def setsockopt(fd, level, optname, value, optlen=None):
    with _SYS:
        v = _optval(value)
        return _ret(_sock.__sys_setsockopt(fd, level, optname, v, len(v) if optlen is None else optlen))


def getsockopt(fd, level, optname, buflen=None):
    """An int (as CPython's getsockopt without buflen), else the option's bytes."""
    r = _ret(_sock.__sys_getsockopt(fd, level, optname, 4 if buflen is None else buflen))
    if buflen is not None:
        return r
    return struct.unpack("<i", bytes(r) + bytes(4 - len(r)))[0] if len(r) < 4 else struct.unpack_from("<i", r, 0)[0]


def shutdown(fd, how):
    with _SYS:
        return _ret(_sock.__sys_shutdown(fd, how))


def close(fd):
    with _SYS:
        return _ret(fdtable.close_fd(fd))


def close_range(first, last=0x7FFFFFFF):
    with _SYS:
        return _ret(fdtable.close_range(first, last))


def fcntl(fd, cmd, arg=0):
    return _ret(fdtable.do_fcntl(fd, cmd, arg))


def dup(fd):
    return _ret(fdtable.ksys_dup(fd))


def dup2(fd, fd2):
    return _ret(fdtable.ksys_dup2(fd, fd2))


def dup3(fd, fd2, flags):
    return _ret(fdtable.ksys_dup3(fd, fd2, flags))


def pipe2(flags=0):
    with _SYS:
        return _ret(_pipe.do_pipe2(flags))


def pipe():
    return pipe2(0)


def read(fd, n):
    with _SYS:
        return _ret(_pipe.ksys_read(fd, n))


def write(fd, data):
    with _SEND:
        return _ret(_pipe.ksys_write(fd, data))


def socketcall(call, args):
    """socketcall(2): args as for the direct calls (addresses as tuples or bytes)."""
    with _SYS:
        a = list(args)
        if call == SYS_BIND and len(a) >= 2:
            a[1] = _addr(a[1])
            if len(a) < 3:
                a.append(len(a[1]))
        elif call in (SYS_GETSOCKNAME, SYS_GETPEERNAME):
            if len(a) == 1:
                return _name(_sock.__sys_socketcall(call, a + [128]), None)
            return _name(_sock.__sys_socketcall(call, a), 0)
        elif call == SYS_SETSOCKOPT and len(a) >= 4:
            a[3] = _optval(a[3])
            if len(a) < 5:
                a.append(len(a[3]))
        elif call == SYS_GETSOCKOPT and len(a) == 3:
            r = _ret(_sock.__sys_socketcall(call, a + [4]))
            return struct.unpack("<i", bytes(r) + bytes(4 - len(r)))[0]
        return _ret(_sock.__sys_socketcall(call, a))


# ---- process: limits and capabilities ------------------------------------------

def setrlimit_nofile(n):
    return _ret(fdtable.do_prlimit_nofile(n))


def getrlimit_nofile():
    return fdtable.rlimit_nofile()


def cap_set(cap, on):
    fdtable.cap_set(cap, on)


def capable(cap):
    return bool(fdtable.capable(cap))


# ---- sysctl --------------------------------------------------------------------

def sysctl(path, value=None):
    """Read (value None) or write a sysctl: 'net.core.somaxconn' or '/proc/sys/...'."""
    if value is None:
        return _ret(_sysctl.sysctl_get(path))
    return _ret(_sysctl.sysctl_set(path, value))


def sysctl_all():
    return _sysctl.sysctl_all()


# ---- the data path: connect, send*, recv* ------------------------------------------

def connect(fd, addr, addrlen=None):
    with _SYS:
        a = _addr(addr)
        return _ret(_sock.__sys_connect(fd, a, len(a) if addrlen is None else addrlen))


def sendto(fd, data, flags=0, addr=None, addrlen=None):
    with _SEND:
        if addr is None:
            return _ret(_sock.__sys_sendto(fd, data, flags))
        a = _addr(addr)
        return _ret(_sock.__sys_sendto(fd, data, flags, a, len(a) if addrlen is None else addrlen))


def send(fd, data, flags=0):
    with _SEND:
        return _ret(_sock.__sys_sendto(fd, data, flags))


def sendmsg(fd, iov, flags=0, addr=None):
    with _SEND:
        a = None if addr is None else _addr(addr)
        m = _sock.msghdr(list(iov), a, 0 if a is None else len(a))
        return _ret(_sock.__sys_sendmsg(fd, m, flags))


def _sockaddr_tuple(a):
    if a is None:
        return None
    return inet_ntoa(a[4:8]), (a[2] << 8) | a[3]


def recvmsg_into(fd, buffers, flags=0):
    """(nbytes, msg_flags, (host, port)) as CPython's socket.recvmsg_into."""
    with _SYS:
        m = _sock.msghdr(list(buffers))
        n = _ret(_sock.__sys_recvmsg(fd, m, flags))
        return n, m.msg_flags, _sockaddr_tuple(m.msg_name)


def recvfrom_into(fd, buf, nbytes=0, flags=0):
    mv = memoryview(buf)
    n, _, a = recvmsg_into(fd, [mv[:nbytes] if nbytes else mv], flags)
    return n, a


def recvfrom(fd, bufsize, flags=0):
    with _SYS:
        buf = bytearray(bufsize)
        n, _, a = recvmsg_into(fd, [buf], flags)
        return bytes(buf[:min(n, bufsize)]), a


def recv(fd, bufsize, flags=0):
    return recvfrom(fd, bufsize, flags)[0]


def accept4(fd, flags=0, buflen=None):
    """(newfd, (host, port)); with buflen: (newfd, (the first buflen bytes, len))."""
    with _SYS:
        r = _ret(_sock.__sys_accept4(fd, 128 if buflen is None else buflen, flags))
        if buflen is not None:
            return r
        b = r[1][0]
        return r[0], (inet_ntoa(b[4:8]), (b[2] << 8) | b[3])


def accept(fd):
    return accept4(fd, 0)


# ---- poll, select, epoll, ioctl, fstat, socketpair (issue 7) -----------------------
from ksock.uapi.poll import *  # noqa: F401,F403 (POLLIN..., EPOLLIN...)
from ksock.fs import select as _select, eventpoll as _ep
from ksock.net.core import datagram as _dg
from ksock.net.unix import af_unix as _af_unix  # registers PF_UNIX  # noqa: F401
from ksock.net.ipv4 import udp as _udp

EPOLL_CTL_ADD = 1
EPOLL_CTL_DEL = 2
EPOLL_CTL_MOD = 3
EPOLL_CLOEXEC = O_CLOEXEC  # noqa: F405
FIONREAD = SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
FIONBIO = 0x5421
S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFIFO = 0o010000
S_IFCHR = 0o020000
if getattr(_udp.udp_prot, "ioctl", None) is None:
    _udp.udp_prot.ioctl = _dg.udp_ioctl  # SIOCINQ/SIOCOUTQ for UDP (inet_ioctl -> udp_ioctl)


def poll(fds, timeout=-1):
    """poll(2): fds is a list of (fd, events); returns [(fd, revents)] for the
    entries with revents != 0, in order (as CPython's poll object). timeout in
    ms, negative = forever. Bad fds give POLLNVAL, negative fds are skipped."""
    with _SYS:
        t = [[fd, ev, 0] for fd, ev in fds]
        _ret(_select.do_sys_poll(t, -1 if timeout is None else timeout))
        return [(p[0], p[2]) for p in t if p[2]]


def select(nfds, rfds, wfds, xfds, timeout=None):
    """select(2) on fd sets given as ints (bitmaps) or iterables of fds.
    Returns (n, r, w, x, left): the ready sets in the same form as given, and
    the time left as (sec, usec) (None without a timeout), as Linux updates it."""
    with _SYS:
        def bits(s):
            if isinstance(s, int):
                return s
            b = 0
            for fd in s or ():
                b |= 1 << fd
            return b

        def back(s, b):
            if isinstance(s, int):
                return b
            return [fd for fd in (s or ()) if b >> fd & 1]
        r = _ret(_select.core_sys_select(nfds, bits(rfds), bits(wfds), bits(xfds), timeout))
        return r[0], back(rfds, r[1]), back(wfds, r[2]), back(xfds, r[3]), r[4]


def epoll_create1(flags=0):
    with _SYS:
        return _ret(_ep.do_epoll_create(flags))


def epoll_create(size=1):
    if size <= 0:
        raise OSError(EINVAL)
    return epoll_create1(0)


def epoll_ctl(epfd, op, fd, events=0, data=None):
    """data defaults to fd (CPython's epoll.register does the same)."""
    with _SYS:
        return _ret(_ep.do_epoll_ctl(epfd, op, fd, events, fd if data is None else data))


def epoll_wait(epfd, maxevents=16, timeout=-1):
    """[(data, events)], at most maxevents."""
    with _SYS:
        return _ret(_ep.do_epoll_wait(epfd, maxevents, -1 if timeout is None else timeout))


def ioctl(fd, cmd, arg=0):
    with _SYS:
        f = fdtable.fdget(fd)
        if f is None:
            raise OSError(9)  # EBADF
        if cmd == FIONBIO and _sock.sock_from_file(f) is None:
            f.f_flags = (f.f_flags | O_NONBLOCK) if arg else (f.f_flags & ~O_NONBLOCK)  # noqa: F405
            return 0
        if cmd == FIONREAD and f.f_op is _pipe.read_pipefifo_fops:
            return f.private_data.len
        r = f.f_op.ioctl(f, cmd, arg)
        if r == -95 and _sock.sock_from_file(f) is None:  # EOPNOTSUPP from a non-socket
            r = -25  # ENOTTY
        return _ret(r)


def fstat(fd):
    """(st_mode, st_ino): S_IFSOCK|0777 and the sockfs inode for sockets."""
    f = fdtable.fdget(fd)
    if f is None:
        raise OSError(9)
    s = _sock.sock_from_file(f)
    if s is not None:
        return _sock.sock_fstat(f)
    if f.f_op is _pipe.read_pipefifo_fops or f.f_op is _pipe.write_pipefifo_fops:
        return S_IFIFO | 0o600, id(f.private_data) & 0xFFFFFF
    if f.f_op is _ep.eventpoll_fops:
        return 0o600, 0
    return S_IFCHR | 0o620, 0


def fdinfo(fd):
    """/proc/self/fdinfo/<fd> text."""
    f = fdtable.fdget(fd)
    if f is None:
        raise OSError(2)  # ENOENT: no such file under /proc/self/fdinfo
    if _sock.sock_from_file(f) is not None:
        return _sock.sock_show_fdinfo(f)
    return "pos:\t0\nflags:\t0%o\nmnt_id:\t0\n" % f.f_flags


def socketpair(family=1, type=1, proto=0):
    with _SYS:
        return _ret(_sock.__sys_socketpair(family, type, proto))


# AF_UNIX addresses: a str path, or bytes starting with NUL (abstract name).
# These wrap the inet helpers above; inet addresses go through them unchanged.
def sockaddr_un(path):
    if isinstance(path, str):
        path = path.encode()
    return b"\x01\x00" + path


_addr_inet, _name_inet, _sockaddr_tuple_inet = _addr, _name, _sockaddr_tuple


def _addr(addr):  # noqa: F811
    if isinstance(addr, str):
        return sockaddr_un(addr)
    return _addr_inet(addr)


def _unix_name(b):
    p = bytes(b[2:])
    if p[:1] == b"\x00":
        return p  # abstract: bytes with the leading NUL, as CPython
    i = p.find(b"\x00")
    return (p if i < 0 else p[:i]).decode()


def _name(r, buflen):  # noqa: F811
    if buflen is None and isinstance(r, tuple) and r[0][:2] == b"\x01\x00":
        return _unix_name(r[0])
    return _name_inet(r, buflen)


def _sockaddr_tuple(a):  # noqa: F811
    if a is not None and a[:2] == b"\x01\x00":
        return _unix_name(a)
    return _sockaddr_tuple_inet(a)


def unlink(path):
    """unlink(2) for AF_UNIX socket paths (ksock's namespace has only those)."""
    return _ret(_af_unix.unix_unlink(path))


def _numeric(host):
    p = host.split(".")
    if len(p) != 4:
        return None
    for x in p:
        if not x.isdigit() or len(x) > 3 or int(x) > 255:
            return None
    return bytes(int(x) for x in p)


_GAI = ((SOCK_STREAM, IPPROTO_TCP), (SOCK_DGRAM, IPPROTO_UDP), (SOCK_RAW, 0))  # noqa: F405


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """[(family, type, proto, canonname, (host, port))] as CPython's (IPv4: one
    entry per socket type unless type/proto narrow them). Numeric hosts,
    'localhost' and None never query; other names go to ksock's stub resolver
    (ksock/resolv.py, imported on first use). Errors raise OSError(EAI_*) with
    glibc's negative code (-2 EAI_NONAME, -3 EAI_AGAIN, -5 EAI_NODATA), as
    CPython's gaierror.errno and MicroPython's lwIP ports have it."""
    if family not in (0, AF_INET):
        raise OSError(-9)  # EAI_ADDRFAMILY
    if not host:
        addrs = [bytes(4) if flags & 1 else b"\x7f\x00\x00\x01"]  # AI_PASSIVE
    elif host == "localhost":
        addrs = [b"\x7f\x00\x00\x01"]
    else:
        a = _numeric(host)
        if a is not None:
            addrs = [a]
        elif flags & 4:  # AI_NUMERICHOST
            raise OSError(-2)
        else:
            from ksock import resolv
            addrs = resolv.resolve(host)
            if isinstance(addrs, int):
                raise OSError(addrs)
    port = int(port or 0) & 0xFFFF
    out = []
    for a in addrs:
        for t, p in _GAI:
            if (type and t != type) or (proto and p and p != proto):
                continue
            out.append((AF_INET, t, proto or p, "", (inet_ntoa(a), port)))
    if not out:
        raise OSError(-7)  # EAI_SOCKTYPE
    return out
