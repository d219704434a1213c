# The oracle backend: ksock.sys's API on the Linux kernel itself, through libc
# (ctypes), so raw sockaddr bytes, short buffers and fd numbers reach the real
# system calls. Run inside a namespace made by the test (see
# test_socket_differential.py). x86_64 has no socketcall(2): its dispatch is
# emulated here with the kernel's own range check.
import ctypes
import os
import resource
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fcntl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_long)


def _chk(r):
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def sockaddr_in(host, port):
    return struct.pack("<H", 2) + struct.pack(">H", port) + bytes(int(x) for x in host.split(".")) + bytes(8)


def _addr(a):
    return sockaddr_in(*a) if isinstance(a, tuple) else a


def socket(family, type, proto=0):
    return _chk(_libc.socket(family, type, proto))


def bind(fd, addr, addrlen=None):
    a = _addr(addr)
    buf = ctypes.create_string_buffer(a, max(len(a), 1))
    return _chk(_libc.bind(fd, buf, len(a) if addrlen is None else addrlen))


def listen(fd, backlog=128):
    return _chk(_libc.listen(fd, backlog))


def _name(fn, fd, buflen):
    buf = ctypes.create_string_buffer(256)
    ln = ctypes.c_int(128 if buflen is None else buflen)
    _chk(fn(fd, buf, ctypes.byref(ln)))
    if buflen is None:
        b = buf.raw[:16]
        return ("%d.%d.%d.%d" % tuple(b[4:8]), (b[2] << 8) | b[3])
    return (buf.raw[:max(0, min(buflen, ln.value))], ln.value)


def getsockname(fd, buflen=None):
    return _name(_libc.getsockname, fd, buflen)


def getpeername(fd, buflen=None):
    return _name(_libc.getpeername, fd, buflen)


def setsockopt(fd, level, opt, value, optlen=None):
    v = struct.pack("<i", value) if isinstance(value, int) else value
    buf = ctypes.create_string_buffer(v, max(len(v), 1))
    return _chk(_libc.setsockopt(fd, level, opt, buf, len(v) if optlen is None else optlen))


def getsockopt(fd, level, opt, buflen=None):
    buf = ctypes.create_string_buffer(512)
    ln = ctypes.c_int(4 if buflen is None else buflen)
    _chk(_libc.getsockopt(fd, level, opt, buf, ctypes.byref(ln)))
    if buflen is None:
        return struct.unpack("<i", buf.raw[:4])[0] if ln.value >= 4 else int.from_bytes(buf.raw[:ln.value], "little")
    return buf.raw[:ln.value]


def shutdown(fd, how):
    return _chk(_libc.shutdown(fd, how))


def close(fd):
    return _chk(_libc.close(fd))


def close_range(first, last=0x7FFFFFFF):
    os.closerange(first, 4096)
    return 0


def fcntl(fd, cmd, arg=0):
    return _chk(_libc.fcntl(fd, cmd, arg))


def dup(fd):
    return _chk(_libc.dup(fd))


def dup2(fd, fd2):
    return _chk(_libc.dup2(fd, fd2))


def dup3(fd, fd2, flags):
    return _chk(_libc.dup3(fd, fd2, flags))


def pipe2(flags=0):
    fds = (ctypes.c_int * 2)()
    _chk(_libc.pipe2(fds, flags))
    return (fds[0], fds[1])


def pipe():
    return pipe2(0)


_SC = {1: socket, 2: bind, 4: listen, 6: getsockname, 7: getpeername, 13: shutdown,
       14: setsockopt, 15: getsockopt}


def socketcall(call, args):
    if call < 1 or call > 20:
        raise OSError(22, "Invalid argument")
    a = list(args)
    if call in (6, 7) and len(a) == 2:
        return _SC[call](a[0], a[1])
    return _SC[call](*a)


def setrlimit_nofile(n):
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def getrlimit_nofile():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class _hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def cap_set(cap, on):
    h = _hdr(0x20080522, 0)
    d = (_data * 2)()
    _chk(_libc.capget(ctypes.byref(h), d))
    if on:
        d[cap // 32].effective |= 1 << (cap % 32)
    else:
        d[cap // 32].effective &= ~(1 << (cap % 32))
    _chk(_libc.capset(ctypes.byref(h), d))


def sysctl(path, value=None):
    p = "/proc/sys/" + path.replace(".", "/")
    if value is None:
        with open(p) as f:
            v = [int(x) for x in f.read().split()]
        return v[0] if len(v) == 1 else tuple(v)
    s = " ".join(str(x) for x in value) if isinstance(value, (tuple, list)) else str(value)
    fd = os.open(p, os.O_WRONLY)
    try:
        os.write(fd, s.encode())
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":  # python3 socket_oracle.py < cases (repr) > results (repr)
    import ast
    import sys
    cases = ast.literal_eval(sys.stdin.read())
    os.closerange(3, 4096)
    g = {"K": sys.modules[__name__]}
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "socket_runner.py")).read()
    exec(src, g)
    print(repr(g["run_cases"](cases)))
