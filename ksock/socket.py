# The drop-in `socket` module: MicroPython's socket API (as the unix port's
# modsocket.c has it, which is Linux's) over ksock's system calls. `ksock.run`
# puts it in sys.modules['socket'] so an unmodified program runs on ksock.
#
# As on the unix port: addresses come back as raw struct sockaddr bytes
# (getaddrinfo, accept, recvfrom; decode with sockaddr()); bind/connect/sendto
# take those bytes or a (host, port) tuple. recv/recvfrom/send/sendto raise the
# errno as is; accept/connect/read/write on a blocking socket turn a timeout
# (EAGAIN/EINPROGRESS) into ETIMEDOUT; read/readinto/readline/write answer None
# on a non-blocking socket with nothing to do. Objects subclass io.IOBase and
# answer ioctl(MP_STREAM_POLL) after one softirq pass, so the built-in
# select.poll and asyncio drive them unchanged.
import io
import struct

import ksock.sys as _ks
from ksock.fs import fdtable as _fdtable
from ksock.kernel import softirq as _softirq
from ksock.uapi import errno as _e
from ksock.compat import const, PLATFORM as _PLATFORM

AF_UNIX = const(1)
AF_INET = const(2)
AF_INET6 = const(10)
SOCK_STREAM = const(1)
SOCK_DGRAM = const(2)
SOCK_RAW = const(3)
MSG_PEEK = const(0x2)
MSG_DONTROUTE = const(0x4)
MSG_TRUNC = const(0x20)
MSG_DONTWAIT = const(0x40)
MSG_WAITALL = const(0x100)
SOL_SOCKET = const(1)
SO_REUSEADDR = const(2)
SO_ERROR = const(4)
SO_BROADCAST = const(6)
SO_SNDBUF = const(7)
SO_RCVBUF = const(8)
SO_KEEPALIVE = const(9)
SO_LINGER = const(13)
SO_RCVTIMEO = const(20)
SO_SNDTIMEO = const(21)
IPPROTO_IP = const(0)
IPPROTO_ICMP = const(1)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)
IPPROTO_RAW = const(255)
TCP_NODELAY = const(1)
SHUT_RD = const(0)
SHUT_WR = const(1)
SHUT_RDWR = const(2)

_O_NONBLOCK = const(0o4000)
_F_GETFL = const(3)
_F_SETFL = const(4)
_MP_STREAM_POLL = const(3)
_MP_STREAM_CLOSE = const(4)
_POLLIN = const(0x1)
_POLLOUT = const(0x4)
_POLL_ALWAYS = const(0x38)  # POLLERR | POLLHUP | POLLNVAL: reported whatever was asked


def _addr(a):
    """bind/connect/sendto argument: sockaddr bytes (as getaddrinfo gives) or a tuple."""
    if isinstance(a, tuple):
        return _ks.sockaddr_in(a[0], a[1])
    return a


def _fd_poll(fd):
    """Linux poll bits of ksock's fd, as poll(2) with a zero timeout would give."""
    f = _fdtable.fdget(fd)
    if f is None:
        return 0x20  # POLLNVAL
    op = f.f_op.poll
    return 0 if op is None else op(f)


# recv(n)/recvfrom(n) land here first, so a large n costs no n-byte buffer
_SCRATCH_N = const(16384) if _PLATFORM == "linux" else const(2048)
_scratch = bytearray(_SCRATCH_N)
_scratch_mv = memoryview(_scratch)


def _inq(fd):
    """FIONREAD: bytes queued (a stream) or the next datagram's size; 0 if unknown."""
    try:
        return _ks.ioctl(fd, 0x541B)
    except OSError:
        return 0


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, fileno=None):
        self._fd = _ks.socket(af, type, proto) if fileno is None else fileno
        self._blocking = True
        self._dgram = type == SOCK_DGRAM

    def __repr__(self):
        return "<_socket %d>" % self._fd

    def fileno(self):
        return self._fd

    def close(self):
        if self._fd >= 0:
            try:
                _ks.close(self._fd)
            except OSError:
                pass  # as the unix port: close() only releases the fd
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def bind(self, addr):
        _ks.bind(self._fd, _addr(addr))

    def listen(self, backlog=128):
        # the unix port's MICROPY_PY_SOCKET_LISTEN_BACKLOG_DEFAULT: min(SOMAXCONN, 128)
        _ks.listen(self._fd, backlog if backlog > 0 else 0)

    def accept(self):
        try:
            fd, (a, n) = _ks.accept4(self._fd, 0, 32)
        except OSError as e:
            if self._blocking and e.errno == _e.EAGAIN:
                raise OSError(_e.ETIMEDOUT)
            raise
        return socket(fileno=fd), bytearray(a[:n])

    def connect(self, addr):
        try:
            _ks.connect(self._fd, _addr(addr))
        except OSError as e:
            if self._blocking and e.errno == _e.EINPROGRESS:
                raise OSError(_e.ETIMEDOUT)
            raise

    def send(self, data, flags=0):
        return _ks.sendto(self._fd, data, flags)

    def sendall(self, data, flags=0):
        mv = memoryview(data)
        n = 0
        while n < len(mv):
            n += _ks.sendto(self._fd, mv[n:], flags)

    def sendto(self, data, flags_or_addr, addr=None):
        if addr is None:
            return _ks.sendto(self._fd, data, 0, _addr(flags_or_addr))
        return _ks.sendto(self._fd, data, flags_or_addr, _addr(addr))

    def recv_into(self, buf, nbytes=0, flags=0):
        mv = memoryview(buf)
        return _ks.recvmsg_into(self._fd, [mv[:nbytes] if nbytes else mv], flags)[0]

    def recv(self, n, flags=0):
        return self._recv(n, flags)[0]

    def recvfrom(self, n, flags=0):
        data, a = self._recv(n, flags)
        return data, (_ks.sockaddr_in(a[0], a[1]) if a else b"")

    def _recv(self, n, flags):
        """Allocate only what is returned: read into the shared scratch buffer
        when it is big enough, else ask FIONREAD what is queued (waiting for it
        with a 1-byte MSG_PEEK) and allocate exactly that."""
        try:
            return self._recv_alloc(n, flags)
        except MemoryError:  # the buffer for the data: no MemoryError leaves a socket call
            raise OSError(_e.ENOMEM)

    def _recv_alloc(self, n, flags):
        fd = self._fd
        if n > _SCRATCH_N or flags & MSG_WAITALL:
            q = _inq(fd)
            if not q and not flags & MSG_WAITALL:
                _ks.recvmsg_into(fd, [_scratch_mv[:1]], flags | MSG_PEEK)  # blocks as recv would
                q = _inq(fd)
            m = n if flags & MSG_WAITALL or q > n else q
            if m > _SCRATCH_N:
                buf = bytearray(m)
                k, _, a = _ks.recvmsg_into(fd, [buf], flags)
                return (bytes(buf) if k == m else bytes(memoryview(buf)[:min(k, m)])), a
            n = m if m else _SCRATCH_N
        k, _, a = _ks.recvmsg_into(fd, [_scratch_mv[:n]], flags)
        return bytes(_scratch_mv[:min(k, n)]), a

    def setsockopt(self, level, opt, value):
        _ks.setsockopt(self._fd, level, opt, value)

    def shutdown(self, how):
        _ks.shutdown(self._fd, how)

    def setblocking(self, flag):
        fl = _ks.fcntl(self._fd, _F_GETFL)
        _ks.fcntl(self._fd, _F_SETFL, fl & ~_O_NONBLOCK if flag else fl | _O_NONBLOCK)
        self._blocking = bool(flag)

    def settimeout(self, t):
        # As modsocket.c: None blocks forever, 0 is non-blocking, else both
        # SO_RCVTIMEO and SO_SNDTIMEO (a struct timeval) with a blocking socket.
        blocking = True
        sec = usec = 0
        if t is not None:
            sec = int(t)
            usec = int(round((t - sec) * 1000000))
            if sec == 0 and usec == 0:
                blocking = False
        if blocking:
            tv = struct.pack("<qq", sec, usec)
            _ks.setsockopt(self._fd, SOL_SOCKET, SO_RCVTIMEO, tv)
            _ks.setsockopt(self._fd, SOL_SOCKET, SO_SNDTIMEO, tv)
        if blocking != self._blocking:
            self.setblocking(blocking)

    def makefile(self, mode="rb", buffering=0):
        return self

    # ---- the stream protocol (mp_stream_p_t: read, write, ioctl) ----
    def _io_err(self, e):
        if e.errno == _e.EAGAIN:
            if self._blocking:
                raise OSError(_e.ETIMEDOUT)
            return True
        raise e

    def readinto(self, buf, n=-1):
        mv = memoryview(buf)
        if 0 <= n < len(mv):
            mv = mv[:n]
        done = 0
        while done < len(mv):  # mp_stream_read_exactly: until full or EOF
            try:
                k = _ks.recvmsg_into(self._fd, [mv[done:]], 0)[0]
            except OSError as e:
                if self._io_err(e) and not done:
                    return None
                break
            if k == 0:
                break
            done += min(k, len(mv) - done)
            if self._dgram:
                # one datagram, as read(2) and the stream read a C caller makes
                # (DTLS in modtls_mbedtls.c asks for a whole record at most)
                break
        return done

    def read(self, n=-1):
        if n is None or n < 0:
            out = bytearray()
            buf = bytearray(256)
            while True:
                try:
                    k = _ks.recvmsg_into(self._fd, [buf], 0)[0]
                except OSError as e:
                    if self._io_err(e):
                        if not out:
                            return None
                        break
                if k == 0:
                    break
                out += memoryview(buf)[:min(k, len(buf))]
            return bytes(out)
        buf = bytearray(n)
        k = self.readinto(buf)
        if k is None:
            return None
        return bytes(buf) if k == n else bytes(memoryview(buf)[:k])

    def readline(self, limit=-1):
        out = bytearray()
        b = bytearray(1)
        while limit < 0 or len(out) < limit:
            try:
                k = _ks.recvmsg_into(self._fd, [b], 0)[0]
            except OSError as e:
                if self._io_err(e):
                    if not out:
                        return None
                    break
            if k == 0:
                break
            out += b
            if b[0] == 10:
                break
        return bytes(out)

    def write(self, data, off=None, n=None):
        mv = memoryview(data)
        if n is not None:
            mv = mv[min(off, len(mv)):][:n]
        elif off is not None:
            mv = mv[:off]
        done = 0
        while done < len(mv):  # mp_stream_rw: until all is written (nothing for b"")
            try:
                k = _ks.sendto(self._fd, mv[done:], 0)
            except OSError as e:
                if self._io_err(e) and not done:
                    return None
                break
            if k == 0:
                break
            done += k
        return done

    def ioctl(self, req, arg):
        if req == _MP_STREAM_POLL:
            with _ks._SYS:
                _softirq.do_softirq()
                return _fd_poll(self._fd) & (arg | _POLL_ALWAYS) if self._fd >= 0 else 0x20
        if req == _MP_STREAM_CLOSE:
            self.close()
            return 0
        return -_e.EINVAL


def sockaddr(a):
    """(AF_INET, 4 address bytes, port) from a struct sockaddr_in, as modsocket.c."""
    a = bytes(a)
    fam = a[0] | (a[1] << 8)
    if fam == AF_INET:
        return (fam, a[4:8], (a[2] << 8) | a[3])
    return (fam, a[2:])


def inet_pton(af, s):
    if af != AF_INET:
        raise OSError(_e.EAFNOSUPPORT)
    p = s.split(".")
    if len(p) != 4:
        raise OSError(_e.EINVAL)
    out = bytearray(4)
    for i in range(4):
        x = p[i]
        if not x or len(x) > 3 or not x.isdigit() or int(x) > 255:
            raise OSError(_e.EINVAL)
        out[i] = int(x)
    return bytes(out)


def inet_ntop(af, b):
    if af != AF_INET:
        raise OSError(_e.EAFNOSUPPORT)
    if len(b) < 4:
        raise OSError(_e.ENOSPC)
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """As the unix port's (glibc's, IPv4): numeric hosts and 'localhost' without
    a query, other names through ksock's stub resolver (ksock/resolv.py); the
    address as struct sockaddr bytes; errors as OSError('[addrinfo error -N]')."""
    try:
        r = _ks.getaddrinfo(host, port, af, type, proto, flags)
    except OSError as e:
        if isinstance(e.args[0], int) and e.args[0] < 0:
            raise OSError("[addrinfo error %d]" % e.args[0])
        raise
    return [(f, t, p, None, bytearray(_ks.sockaddr_in(a[0], a[1]))) for f, t, p, _, a in r]


# ksock.sys raises Linux's errno numbers everywhere. Bare-metal ports (QEMU,
# ESP32, rp2) have newlib's numbers in their `errno` module (EINPROGRESS is 119
# there, 115 on Linux), and programs -- asyncio among them -- compare with
# those; so on such a port the drop-in's methods translate on the way out. On
# the unix port the numbers agree and nothing is wrapped.
def _platform_errno_map():
    try:
        import errno as _pe
    except ImportError:
        return None
    m = {}
    for name in dir(_e):
        if name[:1] == "E" and name != "E":
            v = getattr(_e, name)
            pv = getattr(_pe, name, None)
            if isinstance(v, int) and isinstance(pv, int) and pv != v:
                m[v] = pv
    return m or None


_EMAP = _platform_errno_map()


def _xlate(f):
    def w(*a, **k):
        try:
            return f(*a, **k)
        except OSError as e:
            if e.args and e.args[0] in _EMAP:
                raise OSError(_EMAP[e.args[0]])
            raise
    return w


if _EMAP:
    for _n in ("bind", "listen", "accept", "connect", "send", "sendall", "sendto", "recv_into", "recv",
               "recvfrom", "setsockopt", "shutdown", "readinto", "read", "readline", "write", "__init__"):
        setattr(socket, _n, _xlate(getattr(socket, _n)))
    inet_pton = _xlate(inet_pton)
    inet_ntop = _xlate(inet_ntop)
