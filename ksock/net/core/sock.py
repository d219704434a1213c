# net/core/sock.c + include/net/sock.h: struct sock (the protocol side of a
# socket), sk_alloc/sock_init_data, and the SOL_SOCKET options with Linux's
# answers (buffer doubling and clamping, linger, timeouts...).
#
# Memory: MicroPython keeps instance attributes in a small hash map, so defaults
# live on the class and an idle sock only stores what differs (measured in
# tests/bench/bench_socket.py). Protocols subclass sock (inet_sock, tcp_sock...)
# the way Linux sizes objects by proto->obj_size.
import struct
from ksock.compat import const
from ksock.uapi.errno import EINVAL, ENOPROTOOPT, EOPNOTSUPP, EDOM, EPERM
from ksock.uapi.socket import (AF_UNSPEC, SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE,
                               SO_BROADCAST, SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_OOBINLINE,
                               SO_NO_CHECK, SO_PRIORITY, SO_LINGER, SO_REUSEPORT, SO_RCVLOWAT,
                               SO_SNDLOWAT, SO_RCVTIMEO, SO_SNDTIMEO, SO_ACCEPTCONN, SO_PROTOCOL,
                               SO_DOMAIN, SO_SNDBUFFORCE, SO_RCVBUFFORCE)
from ksock.net.core import sysctl
from ksock.fs import fdtable
from ksock.kernel import wait, fault_inject

# enum sock_flags (bits of sk_flags)
SOCK_DEAD = const(0)
SOCK_DONE = const(1)
SOCK_URGINLINE = const(2)
SOCK_KEEPOPEN = const(3)
SOCK_LINGER = const(4)
SOCK_BROADCAST = const(6)
SOCK_DBG = const(10)
SOCK_LOCALROUTE = const(13)

# sk_userlocks
SOCK_SNDBUF_LOCK = const(1)
SOCK_RCVBUF_LOCK = const(2)
SOCK_BINDADDR_LOCK = const(4)
SOCK_BINDPORT_LOCK = const(8)

SK_NO_REUSE = const(0)
SK_CAN_REUSE = const(1)

TCP_CLOSE = const(7)  # sk_state starts here for every family (tcp.py has the rest)
TCP_LISTEN = const(10)

HZ = const(1000)  # jiffies are milliseconds
MAX_SCHEDULE_TIMEOUT = const(0x3FFFFFFF)  # "forever"; a small int on 32-bit boards
SOCK_MIN_SNDBUF = const(4608)  # 2 * (2048 + SKB_TRUESIZE overhead) as x86_64 Linux reports
SOCK_MIN_RCVBUF = const(2304)
INT_MAX = 0x7FFFFFFF
_U32 = 0xFFFFFFFF


# ---- wake-ups: the default sk callbacks wake the socket's wait queue with a key ----
# (net/core/sock.c). The queue lives on struct socket (sock.wq), allocated the
# first time someone waits (sk_sleep), so an idle socket carries none.
_POLLIN_KEY = const(0x1 | 0x2 | 0x40 | 0x80)  # EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND
_POLLOUT_KEY = const(0x4 | 0x100 | 0x200)  # EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
_POLLERR_KEY = const(0x8)


def sk_sleep(sk):
    """The wait queue head of sk's socket (allocated on first use); None once orphaned."""
    wq = sk.sk_wq
    if wq is None:
        s = sk.sk_socket
        if s is None:
            return None
        wq = s.wq
        if wq is None:
            wq = s.wq = wait.wait_queue_head()
        sk.sk_wq = wq
    return wq


def _wq(sk):
    wq = sk.sk_wq
    if wq is None and sk.sk_socket is not None:
        wq = sk.sk_socket.wq
    return wq


def sock_def_wakeup(sk):
    """sk_state_change: wake everyone, no key (a state change may concern any event)."""
    wq = _wq(sk)
    if wq is not None and wq.head:
        wait.wake_up_interruptible_all(wq)


def sock_def_readable(sk):
    """sk_data_ready."""
    wq = _wq(sk)
    if wq is not None and wq.head:
        wait.wake_up_interruptible_sync_poll(wq, _POLLIN_KEY)


def sock_def_write_space(sk):
    """sk_write_space for datagram sockets: wake writers once half the send buffer is free."""
    wq = _wq(sk)
    if wq is not None and wq.head and (sk.sk_wmem_alloc << 1) <= sk.sk_sndbuf:
        wait.wake_up_interruptible_sync_poll(wq, _POLLOUT_KEY)


def sock_def_error_report(sk):
    wq = _wq(sk)
    if wq is not None and wq.head:
        wait.wake_up_interruptible_poll(wq, _POLLERR_KEY)


def sk_stream_wspace(sk):
    return sk.sk_sndbuf - sk.sk_wmem_queued


def sk_stream_min_wspace(sk):
    return sk.sk_wmem_queued >> 1


def sk_stream_is_writeable(sk):
    return sk_stream_wspace(sk) >= sk_stream_min_wspace(sk)


def sk_stream_write_space(sk):
    """net/core/stream.c: sk_write_space of stream sockets (TCP sets it at init)."""
    wq = _wq(sk)
    if wq is not None and wq.head and sk_stream_is_writeable(sk):
        wait.wake_up_interruptible_poll(wq, _POLLOUT_KEY)


def sock_writeable(sk):
    """Datagram sockets: writable while less than half the send buffer is in flight."""
    return sk.sk_wmem_alloc < (sk.sk_sndbuf >> 1)


class sock:
    """struct sock. Class attributes are the zeroed defaults of sk_alloc()."""
    sk_family = AF_UNSPEC
    sk_type = 0
    sk_protocol = 0
    sk_prot = None
    sk_state = TCP_CLOSE
    sk_reuse = SK_NO_REUSE
    sk_reuseport = 0
    sk_userlocks = 0
    sk_flags = 0
    sk_shutdown = 0
    sk_err = 0
    sk_bound_dev_if = 0
    sk_priority = 0
    sk_rcvlowat = 1
    sk_lingertime = 0
    sk_rcvtimeo = MAX_SCHEDULE_TIMEOUT
    sk_sndtimeo = MAX_SCHEDULE_TIMEOUT
    sk_rcvbuf = 0
    sk_sndbuf = 0
    sk_ack_backlog = 0
    sk_max_ack_backlog = 0
    sk_uid = 0
    sk_socket = None
    sk_wq = None
    sk_wmem_alloc = 0  # bytes sent but not yet freed by the driver
    sk_rmem_alloc = 0  # bytes of receive buffer charged (TCP: chunks of sk_mem's pool)
    sk_wmem_queued = 0  # stream sockets: bytes on the write queue
    sk_state_change = staticmethod(sock_def_wakeup)
    sk_data_ready = staticmethod(sock_def_readable)
    sk_write_space = staticmethod(sock_def_write_space)
    sk_error_report = staticmethod(sock_def_error_report)


def sock_flag(sk, flag):
    return (sk.sk_flags >> flag) & 1


def sock_set_flag(sk, flag):
    sk.sk_flags |= 1 << flag


def sock_reset_flag(sk, flag):
    sk.sk_flags &= ~(1 << flag)


def sock_valbool_flag(sk, flag, valbool):
    if valbool:
        sock_set_flag(sk, flag)
    else:
        sock_reset_flag(sk, flag)


def sk_alloc(family, prot):
    """A zeroed sock of the protocol's object type (prot.obj: tcp_sock, udp_sock...);
    MemoryError when the heap has no room (callers answer ENOBUFS)."""
    if fault_inject.fail_nth[0] and fault_inject.should_fail():
        raise MemoryError
    sk = prot.obj()
    if sk.sk_prot is not prot:
        sk.sk_prot = prot
    if family != sk.sk_family:
        sk.sk_family = family
    return sk


def sock_init_data(sock, sk):
    """Buffers from net.core.{r,w}mem_default; the socket and sock point at each other."""
    v = sysctl.sysctl("net.core.rmem_default")
    if v != sk.sk_rcvbuf:  # (a protocol's class may hold it already: no instance attribute)
        sk.sk_rcvbuf = v
    v = sysctl.sysctl("net.core.wmem_default")
    if v != sk.sk_sndbuf:
        sk.sk_sndbuf = v
    if sk.sk_type != sock.type:
        sk.sk_type = sock.type
    sk.sk_socket = sock
    sock.sk = sk
    if sock.wq is not None:
        sk.sk_wq = sock.wq
    if fdtable.current.uid:
        sk.sk_uid = fdtable.current.uid


def sock_graft(sk, parent):
    """Attach an accepted child to its new struct socket (include/net/sock.h)."""
    sk.sk_socket = parent
    parent.sk = sk
    if sk.sk_wq is not parent.wq:
        sk.sk_wq = parent.wq  # the child sleeps on its new socket's queue
    if sk.sk_type != parent.type:
        sk.sk_type = parent.type


def sock_error(sk):
    err = sk.sk_err
    sk.sk_err = 0
    return -err


def _int(optval):
    return struct.unpack_from("<i", optval, 0)[0]


def _set_timeout(optval, optlen):
    """sock_set_timeout() for struct timeval {long tv_sec; long tv_usec} (16 bytes)."""
    if optlen < 16:
        return -EINVAL, 0
    sec, usec = struct.unpack_from("<qq", optval, 0)
    if usec < 0 or usec >= 1000000:
        return -EDOM, 0
    if sec < 0:
        return 0, 0
    if sec == 0 and usec == 0:
        return 0, MAX_SCHEDULE_TIMEOUT
    if sec < MAX_SCHEDULE_TIMEOUT // HZ - 1:
        return 0, sec * HZ + (usec + (1000000 // HZ) - 1) // (1000000 // HZ)
    return 0, MAX_SCHEDULE_TIMEOUT


def _get_timeout(timeo):
    if timeo == MAX_SCHEDULE_TIMEOUT:
        return struct.pack("<qq", 0, 0)
    return struct.pack("<qq", timeo // HZ, (timeo % HZ) * 1000000 // HZ)


def sock_set_sndbuf(sk, val):
    sk.sk_userlocks |= SOCK_SNDBUF_LOCK
    val = min(val, INT_MAX // 2)
    sk.sk_sndbuf = max(val * 2, SOCK_MIN_SNDBUF)


def sock_set_rcvbuf(sk, val):
    sk.sk_userlocks |= SOCK_RCVBUF_LOCK
    val = min(val, INT_MAX // 2)
    sk.sk_rcvbuf = max(val * 2, SOCK_MIN_RCVBUF)


def sock_setsockopt(sock, optname, optval, optlen):
    """sk_setsockopt(): 0 or a negative errno."""
    sk = sock.sk
    if optlen < 4:
        return -EINVAL
    val = _int(optval)
    valbool = 1 if val else 0
    if optname == SO_REUSEADDR:
        sk.sk_reuse = SK_CAN_REUSE if valbool else SK_NO_REUSE
    elif optname == SO_REUSEPORT:
        sk.sk_reuseport = valbool
    elif optname == SO_DEBUG:
        if val and not fdtable.capable(fdtable.CAP_NET_ADMIN):
            return -13  # EACCES
        sock_valbool_flag(sk, SOCK_DBG, valbool)
    elif optname == SO_DONTROUTE:
        sock_valbool_flag(sk, SOCK_LOCALROUTE, valbool)
    elif optname == SO_BROADCAST:
        sock_valbool_flag(sk, SOCK_BROADCAST, valbool)
    elif optname == SO_SNDBUF or optname == SO_SNDBUFFORCE:
        if optname == SO_SNDBUFFORCE and not fdtable.capable(fdtable.CAP_NET_ADMIN):
            return -EPERM
        v = val & _U32  # min_t(u32, ...): a negative value clamps to the max
        if optname == SO_SNDBUF:
            v = min(v, sysctl.sysctl("net.core.wmem_max"))
        sock_set_sndbuf(sk, v if v <= INT_MAX else INT_MAX)
    elif optname == SO_RCVBUF or optname == SO_RCVBUFFORCE:
        if optname == SO_RCVBUFFORCE and not fdtable.capable(fdtable.CAP_NET_ADMIN):
            return -EPERM
        v = val & _U32
        if optname == SO_RCVBUF:
            v = min(v, sysctl.sysctl("net.core.rmem_max"))
        sock_set_rcvbuf(sk, v if v <= INT_MAX else INT_MAX)
    elif optname == SO_KEEPALIVE:
        ka = getattr(sk.sk_prot, "keepalive", None)
        if ka is not None:
            ka(sk, valbool)
        sock_valbool_flag(sk, SOCK_KEEPOPEN, valbool)
    elif optname == SO_OOBINLINE:
        sock_valbool_flag(sk, SOCK_URGINLINE, valbool)
    elif optname == SO_NO_CHECK:
        pass
    elif optname == SO_PRIORITY:
        if (val < 0 or val > 6) and not fdtable.capable(fdtable.CAP_NET_ADMIN):
            return -EPERM
        sk.sk_priority = val
    elif optname == SO_LINGER:
        if optlen < 8:
            return -EINVAL
        onoff, linger = struct.unpack_from("<ii", optval, 0)
        if not onoff:
            sock_reset_flag(sk, SOCK_LINGER)
        else:
            sk.sk_lingertime = MAX_SCHEDULE_TIMEOUT if linger > MAX_SCHEDULE_TIMEOUT // HZ else linger * HZ
            sock_set_flag(sk, SOCK_LINGER)
    elif optname == SO_RCVLOWAT:
        sk.sk_rcvlowat = val if val >= 0 else INT_MAX
        if sk.sk_rcvlowat == 0:
            sk.sk_rcvlowat = 1
    elif optname == SO_RCVTIMEO or optname == SO_SNDTIMEO:
        err, t = _set_timeout(optval, optlen)
        if err:
            return err
        if optname == SO_RCVTIMEO:
            sk.sk_rcvtimeo = t
        else:
            sk.sk_sndtimeo = t
    else:
        # SO_TYPE, SO_ERROR, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN, SO_SNDLOWAT, unknown
        return -ENOPROTOOPT
    return 0


def sock_getsockopt(sock, optname, optlen):
    """sk_getsockopt(): the option's bytes truncated to optlen, or a negative errno."""
    sk = sock.sk
    if optlen < 0:
        return -EINVAL
    v = None
    if optname == SO_DEBUG:
        v = sock_flag(sk, SOCK_DBG)
    elif optname == SO_DONTROUTE:
        v = sock_flag(sk, SOCK_LOCALROUTE)
    elif optname == SO_BROADCAST:
        v = sock_flag(sk, SOCK_BROADCAST)
    elif optname == SO_SNDBUF:
        v = sk.sk_sndbuf
    elif optname == SO_RCVBUF:
        v = sk.sk_rcvbuf
    elif optname == SO_REUSEADDR:
        v = sk.sk_reuse
    elif optname == SO_REUSEPORT:
        v = sk.sk_reuseport
    elif optname == SO_KEEPALIVE:
        v = sock_flag(sk, SOCK_KEEPOPEN)
    elif optname == SO_TYPE:
        v = sk.sk_type
    elif optname == SO_PROTOCOL:
        v = sk.sk_protocol
    elif optname == SO_DOMAIN:
        v = sk.sk_family
    elif optname == SO_ERROR:
        v = -sock_error(sk)
    elif optname == SO_OOBINLINE:
        v = sock_flag(sk, SOCK_URGINLINE)
    elif optname == SO_NO_CHECK:
        v = 0
    elif optname == SO_PRIORITY:
        v = sk.sk_priority
    elif optname == SO_LINGER:
        b = struct.pack("<ii", sock_flag(sk, SOCK_LINGER), sk.sk_lingertime // HZ)
        return b[:optlen]
    elif optname == SO_RCVTIMEO:
        return _get_timeout(sk.sk_rcvtimeo)[:optlen]
    elif optname == SO_SNDTIMEO:
        return _get_timeout(sk.sk_sndtimeo)[:optlen]
    elif optname == SO_RCVLOWAT:
        v = sk.sk_rcvlowat
    elif optname == SO_SNDLOWAT:
        v = 1
    elif optname == SO_ACCEPTCONN:
        v = 1 if sk.sk_state == TCP_LISTEN else 0
    else:
        return -ENOPROTOOPT
    return struct.pack("<i", v)[:optlen]


# ---- accept-queue counters (include/net/sock.h) ---------------------------------

def sk_acceptq_added(sk):
    sk.sk_ack_backlog += 1


def sk_acceptq_removed(sk):
    sk.sk_ack_backlog -= 1


def sk_acceptq_is_full(sk):
    return sk.sk_ack_backlog > sk.sk_max_ack_backlog


def sk_common_release(sk):
    """Datagram/raw close: unhash, drop the port, orphan."""
    prot = sk.sk_prot
    if prot.destroy is not None:
        prot.destroy(sk)
    prot.unhash(sk)
    sock_orphan(sk)


def sock_orphan(sk):
    """The socket side is gone: no more wake-ups go anywhere."""
    sock_set_flag(sk, SOCK_DEAD)
    sk.sk_socket = None
    if sk.sk_wq is not None:
        sk.sk_wq = None


# ---- blocking: sleep on sk_sleep(sk) while the softirq loop runs ------------------

def sock_rcvtimeo(sk, noblock):
    return 0 if noblock else sk.sk_rcvtimeo


def sock_sndtimeo(sk, noblock):
    return 0 if noblock else sk.sk_sndtimeo


def sk_wait_event(sk, timeo, cond):
    """Sleep on sk's wait queue until cond() holds or `timeo` jiffies pass
    (MAX_SCHEDULE_TIMEOUT: forever). Returns (cond(), time left). cond is
    re-checked only when a wake-up arrives, as in the kernel: the protocol must
    call sk_data_ready/sk_write_space/sk_state_change/sk_error_report."""
    r = cond()
    if r or timeo <= 0:
        return r, timeo
    wq = sk_sleep(sk)
    if wq is None:
        return r, 0
    e = wait.wait_queue_entry(wait.woken_wake_function)
    wait.add_wait_queue(wq, e)
    try:
        while True:
            timeo = wait.wait_woken(e, timeo)
            r = cond()
            if r or timeo == 0:
                return r, timeo
    finally:
        wait.remove_wait_queue(wq, e)


def sk_wait_data(sk, timeo, skb=None):
    """Wait until the receive queue's tail is no longer `skb` (new data), an
    error or a receive shutdown. Returns (ready, time left)."""
    from ksock.net.core import skbuff
    q = sk.sk_receive_queue
    return sk_wait_event(sk, timeo, lambda: (skbuff.skb_peek_tail(q) is not skb) or sk.sk_err
                         or (sk.sk_shutdown & 1))


def _noop_int(*a):
    return 0


class proto:
    """struct proto: the transport's entry points (tcp_prot, udp_prot, raw_prot).
    `obj` is the sock subclass to allocate (Linux's obj_size/slab)."""

    def __init__(self, name, obj, close, get_port=None, hash=_noop_int, unhash=_noop_int,
                 init=None, destroy=None, bind=None, setsockopt=None, getsockopt=None,
                 shutdown=None, disconnect=None, accept=None, keepalive=None, h=None):
        self.name = name
        self.obj = obj
        self.close = close
        self.get_port = get_port
        self.hash = hash
        self.unhash = unhash
        self.init = init
        self.destroy = destroy
        self.bind = bind
        self.setsockopt = setsockopt
        self.getsockopt = getsockopt
        self.shutdown = shutdown
        self.disconnect = disconnect
        self.accept = accept
        self.keepalive = keepalive
        self.h = h  # hashinfo / udp_table
        obj.sk_prot = self  # a class attribute: no per-sock slot
