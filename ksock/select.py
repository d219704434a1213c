# Drop-in `select` for ordinary MicroPython programs (and asyncio) using ksock
# sockets: select.poll() objects with register/modify/unregister/poll/ipoll and
# select.select(), as MicroPython's. A poll object keeps its registrations on
# an epoll set, so a wait costs O(ready), and the softirq loop runs while it
# waits. Accepts ksock.socket objects (their fileno() is the ksock fd), raw
# ksock fds, and other stream objects, asked through their stream protocol's
# ioctl(MP_STREAM_POLL) by the interpreter's own poll with a zero timeout: a
# tls SSLSocket has no Python-level ioctl, and its C one asks the ksock socket
# underneath (modtls_mbedtls.c socket_ioctl) for what the handshake needs.
import sys
from ksock.compat import const
from ksock.fs import fdtable, eventpoll as _ep
from ksock.fs.select import core_sys_select
from ksock.kernel import softirq
from ksock.sys import _SYS  # the syscall boundary: bh guard, MemoryError -> ENOMEM

POLLIN = const(0x1)
POLLOUT = const(0x4)
POLLERR = const(0x8)
POLLHUP = const(0x10)
_MP_STREAM_POLL = const(3)
_ONESHOT = const(1)


def _builtin_select():
    """The interpreter's own select (None on CPython), even when ksock.run has
    put this module in sys.modules['uselect']."""
    saved = sys.modules.pop("uselect", None)
    try:
        import uselect
        return uselect if hasattr(uselect, "poll") and not hasattr(uselect, "_builtin_select") else None
    except ImportError:
        return None
    finally:
        if saved is not None:
            sys.modules["uselect"] = saved


_builtin = _builtin_select()


def _ksock_fd(obj):
    fd = obj if isinstance(obj, int) else (obj.fileno() if hasattr(obj, "fileno") else -1)
    return fd if fd >= 0 and fdtable.fdget(fd) is not None else -1


class poll:
    def __init__(self):
        self._epfd = _ep.do_epoll_create(0)
        if self._epfd < 0:
            raise OSError(-self._epfd)
        self._ep = fdtable.fdget(self._epfd).private_data
        self._objs = {}  # fd -> object (what poll() hands back)
        self._foreign = {}  # non-ksock object -> eventmask
        self._bp = None  # the built-in poll holding the same, made on first use

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        with _SYS:
            fd = _ksock_fd(obj)
            if fd < 0:
                self._set_foreign(obj, eventmask)
                return
            op = _ep.EPOLL_CTL_MOD if fd in self._objs else _ep.EPOLL_CTL_ADD
            self._objs[fd] = obj
            _ep.do_epoll_ctl(self._epfd, op, fd, eventmask, fd)

    def modify(self, obj, eventmask):
        with _SYS:
            fd = _ksock_fd(obj)
            if fd < 0:
                if obj not in self._foreign:
                    raise OSError(2)  # ENOENT, as MicroPython
                self._set_foreign(obj, eventmask)
                return
            if fd not in self._objs:
                raise OSError(2)
            self._objs[fd] = obj
            _ep.do_epoll_ctl(self._epfd, _ep.EPOLL_CTL_MOD, fd, eventmask, fd)

    def unregister(self, obj):
        with _SYS:
            fd = _ksock_fd(obj)
            if fd < 0:
                if self._foreign.pop(obj, None) is not None and self._bp is not None:
                    self._bp.unregister(obj)
                return
            if self._objs.pop(fd, None) is not None:
                _ep.do_epoll_ctl(self._epfd, _ep.EPOLL_CTL_DEL, fd, 0, fd)

    def _set_foreign(self, obj, eventmask):
        self._foreign[obj] = eventmask
        if _builtin is not None:
            if self._bp is None:
                self._bp = _builtin.poll()
            self._bp.register(obj, eventmask)

    def _foreign_ready(self):
        if self._bp is not None:
            return self._bp.poll(0)
        out = []
        for obj, ev in self._foreign.items():
            r = obj.ioctl(_MP_STREAM_POLL, ev) if hasattr(obj, "ioctl") else 0
            if r:
                out.append((obj, r))
        return out

    def poll(self, timeout=-1, flags=0):
        with _SYS:
            if timeout is None or timeout < 0:
                timeout = -1
            ep = self._ep
            if self._foreign:  # wait for either kind; foreign objects are asked each pass
                box = []
                softirq.wait_event(lambda: ep.rdllist or box.extend(self._foreign_ready()) or box, timeout)
                res = _ep.ep_poll(ep, 64, 0) if ep.rdllist else []
            else:
                res = _ep.ep_poll(ep, 64, timeout)
                box = []
            out = []
            for fd, ev in res:
                obj = self._objs.get(fd)
                if obj is None:
                    continue
                out.append((obj, ev))
                if flags & _ONESHOT:
                    _ep.do_epoll_ctl(self._epfd, _ep.EPOLL_CTL_MOD, fd, 0, fd)
            for obj, ev in box:
                out.append((obj, ev))
                if flags & _ONESHOT:
                    self._set_foreign(obj, 0)
            return out

    def ipoll(self, timeout=-1, flags=0):
        return iter(self.poll(timeout, flags))

    def close(self):
        """Free the epoll fd behind this object (MicroPython has no finalisers here)."""
        if self._epfd >= 0:
            fdtable.close_fd(self._epfd)
            self._epfd = -1


def select(rlist, wlist, xlist, timeout=None):
    """select.select over ksock objects/fds; timeout in seconds (None: forever)."""
    with _SYS:
        fds = {}
        sets = []
        n = 0
        for lst in (rlist, wlist, xlist):
            b = 0
            for obj in lst:
                fd = _ksock_fd(obj)
                if fd < 0:
                    raise OSError(9)  # EBADF: not a ksock fd
                fds[fd] = obj
                b |= 1 << fd
                n = max(n, fd + 1)
            sets.append(b)
        t = None
        if timeout is not None:
            us = int(timeout * 1000000)
            t = (us // 1000000, us % 1000000)
        r = core_sys_select(n, sets[0], sets[1], sets[2], t)
        if isinstance(r, int):
            raise OSError(-r)
        return tuple([fds[fd] for fd in sorted(fds) if r[i + 1] >> fd & 1 and lst_has(lst, fds[fd])]
                     for i, lst in enumerate((rlist, wlist, xlist)))


def lst_has(lst, obj):
    for o in lst:
        if o is obj:
            return True
    return False
