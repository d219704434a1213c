# The oracle for test_poll_differential: ksock.sys's poll/select/epoll/AF_UNIX
# API on the Linux kernel itself, through libc (ctypes), so fd numbers, bad
# fds and revents reach the real system calls. Basic calls come from
# socket_oracle. Run inside a namespace made by the test.
import ctypes
import os
import struct

from socket_oracle import (_libc, _chk, _addr, socket, bind, listen, getsockname, setsockopt,  # noqa: F401
                           getsockopt, shutdown, close, close_range, fcntl, dup, pipe2,
                           setrlimit_nofile, getrlimit_nofile, sockaddr_in)


class _pollfd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class _epev(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


class _timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


def poll_revents(fds, timeout):
    arr = (_pollfd * max(len(fds), 1))()
    for i, (fd, ev) in enumerate(fds):
        arr[i].fd = fd
        arr[i].events = ev if ev < 0x8000 else ev - 0x10000
    _chk(_libc.poll(arr, len(fds), timeout))
    return [arr[i].revents & 0xFFFF for i in range(len(fds))]


def select(nfds, r, w, x, timeout):
    sets = []
    for s in (r, w, x):
        b = (ctypes.c_ulong * 16)()
        for fd in s:
            b[fd // 64] |= 1 << (fd % 64)
        sets.append(b)
    tv = None
    if timeout is not None:
        tv = _timeval(timeout[0], timeout[1])
    n = _chk(_libc.select(nfds, sets[0], sets[1], sets[2], ctypes.byref(tv) if tv is not None else None))
    out = [[fd for fd in s if sets[i][fd // 64] >> (fd % 64) & 1] for i, s in enumerate((r, w, x))]
    left = None if tv is None else (tv.tv_sec, tv.tv_usec)
    return n, out[0], out[1], out[2], left


def epoll_create1(flags=0):
    return _chk(_libc.epoll_create1(flags))


def epoll_create(size=1):
    return _chk(_libc.epoll_create(size))


def epoll_ctl(epfd, op, fd, events=0, data=None):
    ev = _epev(events & 0xFFFFFFFF, fd if data is None else data)
    return _chk(_libc.epoll_ctl(epfd, op, fd, ctypes.byref(ev)))


def epoll_wait(epfd, maxevents=16, timeout=-1):
    arr = (_epev * max(1, min(maxevents, 64)))()
    n = _chk(_libc.epoll_wait(epfd, arr, maxevents, timeout))
    return [(arr[i].data, arr[i].events) for i in range(n)]


def socketpair(family=1, type=1, proto=0):
    sv = (ctypes.c_int * 2)()
    _chk(_libc.socketpair(family, type, proto, sv))
    return (sv[0], sv[1])


def connect(fd, addr, addrlen=None):
    a = _addr(addr)
    buf = ctypes.create_string_buffer(a, max(len(a), 1))
    return _chk(_libc.connect(fd, buf, len(a) if addrlen is None else addrlen))


def _peer(buf, ln):
    if ln == 0:
        return None
    raw = buf.raw[:ln]
    fam = raw[0] | raw[1] << 8
    if fam == 1:
        p = raw[2:]
        if p[:1] == b"\x00":
            return p
        i = p.find(b"\x00")
        return (p if i < 0 else p[:i]).decode()
    return ("%d.%d.%d.%d" % tuple(raw[4:8]), (raw[2] << 8) | raw[3])


def accept4(fd, flags=0, buflen=None):
    buf = ctypes.create_string_buffer(128)
    ln = ctypes.c_int(128)
    nfd = _chk(_libc.accept4(fd, buf, ctypes.byref(ln), flags))
    return nfd, _peer(buf, ln.value)


def sendto(fd, data, flags=0, addr=None, addrlen=None):
    if addr is None:
        return _chk(_libc.send(fd, data, len(data), flags))
    a = _addr(addr)
    return _chk(_libc.sendto(fd, data, len(data), flags, a, len(a) if addrlen is None else addrlen))


def send(fd, data, flags=0):
    return _chk(_libc.send(fd, data, len(data), flags))


def recvfrom(fd, n, flags=0):
    b = ctypes.create_string_buffer(max(n, 1))
    a = ctypes.create_string_buffer(128)
    ln = ctypes.c_int(128)
    r = _chk(_libc.recvfrom(fd, b, n, flags, a, ctypes.byref(ln)))
    return b.raw[:min(r, n)], _peer(a, ln.value)


def recv(fd, n, flags=0):
    return recvfrom(fd, n, flags)[0]


def write(fd, data):
    return os.write(fd, data)


def read(fd, n):
    return os.read(fd, n)


def ioctl(fd, cmd, arg=0):
    v = ctypes.c_int(arg)
    _chk(_libc.ioctl(fd, ctypes.c_ulong(cmd), ctypes.byref(v)))
    return v.value if cmd in (0x541B, 0x5411) else 0


def fstat(fd):
    st = os.fstat(fd)
    return st.st_mode, st.st_ino


def unlink(path):
    os.unlink(path)
    return 0


if __name__ == "__main__":  # python3 poll_oracle.py < cases (repr) > results (repr)
    import ast
    import sys
    import tempfile
    cases = ast.literal_eval(sys.stdin.read())
    os.closerange(3, 4096)
    os.chdir(tempfile.mkdtemp())  # AF_UNIX paths are relative: a directory of our own
    g = {"K": sys.modules[__name__], "BACKEND": "linux"}
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "poll_runner.py")).read()
    exec(src, g)
    print(repr(g["run_cases"](cases)))
