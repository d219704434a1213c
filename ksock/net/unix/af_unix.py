# net/unix/af_unix.c: PF_UNIX. socketpair, bind/listen/accept/connect on names
# in an internal namespace (paths stay "on disk" after close until unlinked, as
# socket inodes do) and the abstract namespace (gone with the socket), stream,
# datagram and seqpacket data paths, shutdown, poll, SIOCINQ/SIOCOUTQ, and
# /proc/net/unix. Data is queued as [bytes, offset, truesize, sender]; the
# sender is charged truesize (sk_wmem_alloc) until the reader consumes it.
from ksock.compat import const, PLATFORM
from ksock.uapi.errno import (EINVAL, EOPNOTSUPP, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EADDRINUSE,
                              ENOENT, ECONNREFUSED, EPROTOTYPE, EISCONN, ENOTCONN, EPIPE, EAGAIN,
                              EMSGSIZE, ECONNRESET, EPERM)
from ksock.uapi.socket import (AF_UNIX, AF_UNSPEC, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET,
                               SS_CONNECTED, SS_UNCONNECTED, MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC,
                               MSG_WAITALL, MSG_OOB)
from ksock.net import socket as net_socket
from ksock.net.core.sock import (sock, sock_init_data, sock_graft, sock_error, sock_orphan, sock_flag, SOCK_DEAD,
                                 sk_wait_event, sock_rcvtimeo, sock_sndtimeo, _wq)
from ksock.kernel import wait

UNIX_PATH_MAX = const(108)
SUN_PATH_OFF = const(2)
TCP_ESTABLISHED = const(1)
TCP_CLOSE = const(7)
TCP_LISTEN = const(10)
RCV_SHUTDOWN = const(1)
SEND_SHUTDOWN = const(2)
SHUTDOWN_MASK = const(3)
SKB_OVERHEAD = const(768)  # truesize of a small skb on x86_64
MAX_DGRAM_QLEN = 512 if PLATFORM == "linux" else 10  # net.unix.max_dgram_qlen
_POLLOUT_KEY = const(0x4 | 0x100 | 0x200)
EPOLLIN = const(0x1)
EPOLLOUT = const(0x4)
EPOLLERR = const(0x8)
EPOLLHUP = const(0x10)
EPOLLRDNORM = const(0x40)
EPOLLWRNORM = const(0x100)
EPOLLWRBAND = const(0x200)
EPOLLRDHUP = const(0x2000)
SIOCOUTQ = const(0x5411)
SIOCINQ = const(0x541B)
ENOIOCTLCMD = const(515)

_names = {}  # name (bytes after sun_family) -> unix_sock, or None: a path whose socket is gone
_autobind = [0]


class unix_sock(sock):
    sk_family = AF_UNIX
    peer = None
    addr = None  # the bound name (sun_path bytes as stored), None if unbound
    rq = None  # the receive queue: [data, offset, truesize, sender] or embryo socks

    def __init__(self):
        self.rq = []


def unix_write_space(sk):
    wq = _wq(sk)
    if wq is not None and wq.head and unix_writable(sk, sk.sk_state):
        wait.wake_up_interruptible_sync_poll(wq, _POLLOUT_KEY)


unix_sock.sk_write_space = staticmethod(unix_write_space)


def unix_writable(sk, state):
    return state != TCP_LISTEN and (sk.sk_wmem_alloc << 2) <= sk.sk_sndbuf


def unix_recvq_full(sk):
    return len(sk.rq) > sk.sk_max_ack_backlog


def _free_item(it):
    snd = it[3]
    snd.sk_wmem_alloc -= it[2]
    snd.sk_write_space(snd)


# ---- names ------------------------------------------------------------------------

def unix_mkname(uaddr, addr_len):
    """The stored name (bytes) or -EINVAL (unix_validate_addr + unix_mkname_bsd)."""
    if addr_len < SUN_PATH_OFF or addr_len > SUN_PATH_OFF + UNIX_PATH_MAX:
        return -EINVAL
    if uaddr[0] | (uaddr[1] << 8) != AF_UNIX:
        return -EINVAL
    p = bytes(uaddr[SUN_PATH_OFF:addr_len])
    if p[:1] == b"\x00":
        return p  # abstract: every byte counts
    i = p.find(b"\x00")
    return (p if i < 0 else p[:i]) + b"\x00"  # a path, NUL-terminated as stored


def _lookup(name, type):
    """(other, 0) or (None, -errno) as unix_find_other."""
    if name[:1] != b"\x00":
        if name not in _names:
            return None, -ENOENT
        other = _names[name]
        if other is None:
            return None, -ECONNREFUSED  # the inode is there, nobody listens
    else:
        other = _names.get(name)
        if other is None:
            return None, -ECONNREFUSED
    if other.sk_type != type:  # abstract names hash with their type: not found
        return None, -EPROTOTYPE if name[:1] != b"\x00" else -ECONNREFUSED
    return other, 0


def unix_autobind(sk):
    while True:
        _autobind[0] = (_autobind[0] + 1) & 0xFFFFF
        name = b"\x00" + (b"%05x" % _autobind[0])
        if name not in _names:
            break
    _names[name] = sk
    sk.addr = name
    return 0


def unix_bind(sock, uaddr, addr_len):
    sk = sock.sk
    if addr_len == SUN_PATH_OFF and len(uaddr) >= 2 and uaddr[0] | (uaddr[1] << 8) == AF_UNIX:
        return 0 if sk.addr is not None else unix_autobind(sk)
    name = unix_mkname(uaddr, addr_len)
    if isinstance(name, int):
        return name
    if sk.addr is not None:
        return -EINVAL
    if name in _names:
        return -EADDRINUSE  # abstract: taken; path: the file exists (even if stale)
    _names[name] = sk
    sk.addr = name
    return 0


def unix_unlink(path):
    """unlink(2) of a socket path in the internal namespace: 0 or -ENOENT."""
    name = (path.encode() if isinstance(path, str) else bytes(path)) + b"\x00"
    if name not in _names:
        return -ENOENT
    del _names[name]
    return 0


def unix_getname(sock, peer):
    sk = sock.sk
    if peer:
        sk = sk.peer
        if sk is None:
            return -ENOTCONN
    return b"\x01\x00" + (sk.addr or b"")


# ---- create / release --------------------------------------------------------------

def unix_create(sock, protocol, kern):
    if protocol and protocol != AF_UNIX:
        return -EPROTONOSUPPORT
    t = sock.type
    if t == SOCK_STREAM:
        sock.ops = unix_stream_ops
    elif t == SOCK_RAW or t == SOCK_DGRAM:
        sock.type = SOCK_DGRAM
        sock.ops = unix_dgram_ops
    elif t == SOCK_SEQPACKET:
        sock.ops = unix_seqpacket_ops
    else:
        return -ESOCKTNOSUPPORT
    sk = unix_sock()
    sock_init_data(sock, sk)
    sk.sk_max_ack_backlog = MAX_DGRAM_QLEN
    return 0


def unix_release_sock(sk, embrion):
    if sk.addr is not None:
        if sk.addr[:1] == b"\x00":
            _names.pop(sk.addr, None)
        elif _names.get(sk.addr) is sk:
            _names[sk.addr] = None  # the path stays until unlink(2)
    state = sk.sk_state
    sk.sk_state = TCP_CLOSE
    sk.sk_shutdown = SHUTDOWN_MASK
    skpair = sk.peer
    sk.peer = None
    if skpair is not None and sk.sk_type != SOCK_DGRAM:
        skpair.sk_shutdown = SHUTDOWN_MASK
        if sk.rq or embrion:
            skpair.sk_err = ECONNRESET
        skpair.sk_state_change(skpair)
    rq = sk.rq
    sk.rq = []
    for it in rq:
        if state == TCP_LISTEN:
            unix_release_sock(it, 1)  # embryos never accepted
        else:
            _free_item(it)
    sock_orphan(sk)


def unix_release(sock):
    sk = sock.sk
    if sk is not None:
        sock.sk = None
        unix_release_sock(sk, 0)
    return 0


# ---- listen / connect / accept / socketpair ---------------------------------------

def unix_listen(sock, backlog):
    sk = sock.sk
    if sock.type != SOCK_STREAM and sock.type != SOCK_SEQPACKET:
        return -EOPNOTSUPP
    if sk.addr is None:
        return -EINVAL  # no listens on an unbound socket
    if sk.sk_state != TCP_CLOSE and sk.sk_state != TCP_LISTEN:
        return -EINVAL
    sk.sk_max_ack_backlog = backlog
    sk.sk_state = TCP_LISTEN
    return 0


def unix_stream_connect(sock, uaddr, addr_len, flags):
    sk = sock.sk
    name = unix_mkname(uaddr, addr_len)
    if isinstance(name, int):
        return name
    timeo = sock_sndtimeo(sk, flags & 0o4000)
    while True:
        other, err = _lookup(name, sock.type)
        if other is None:
            return err
        if other.sk_state != TCP_LISTEN or other.sk_shutdown & RCV_SHUTDOWN:
            return -ECONNREFUSED
        if not unix_recvq_full(other):
            break
        if not timeo:
            return -EAGAIN
        ok, timeo = sk_wait_event(other, timeo, lambda: not unix_recvq_full(other))
        if not ok and not timeo:
            return -EAGAIN
    st = sk.sk_state
    if st == TCP_ESTABLISHED:
        return -EISCONN
    if st != TCP_CLOSE:
        return -EINVAL
    newsk = unix_sock()  # the embryo the listener's accept() will hand out
    newsk.sk_type = sk.sk_type
    newsk.sk_rcvbuf = other.sk_rcvbuf
    newsk.sk_sndbuf = other.sk_sndbuf
    newsk.sk_max_ack_backlog = MAX_DGRAM_QLEN
    newsk.addr = other.addr
    newsk.peer = sk
    newsk.sk_state = TCP_ESTABLISHED
    sk.peer = newsk
    sk.sk_state = TCP_ESTABLISHED
    sock.state = SS_CONNECTED
    other.rq.append(newsk)
    other.sk_ack_backlog += 1
    other.sk_data_ready(other)
    return 0


def unix_accept(sock, newsock, flags):
    sk = sock.sk
    if sock.type != SOCK_STREAM and sock.type != SOCK_SEQPACKET:
        return -EOPNOTSUPP
    if sk.sk_state != TCP_LISTEN:
        return -EINVAL
    if not sk.rq:
        timeo = sock_rcvtimeo(sk, flags & 0o4000)
        if not timeo:
            return -EAGAIN
        ok, timeo = sk_wait_event(sk, timeo, lambda: sk.rq or sk.sk_state != TCP_LISTEN)
        if not sk.rq:
            return -EAGAIN if sk.sk_state == TCP_LISTEN else -EINVAL
    tsk = sk.rq.pop(0)
    sk.sk_ack_backlog -= 1
    sock_graft(tsk, newsock)
    newsock.state = SS_CONNECTED
    return 0


def unix_socketpair(socka, sockb):
    ska, skb = socka.sk, sockb.sk
    ska.peer = skb
    skb.peer = ska
    # every type, datagram too (Linux 5.15, "af_unix: Set TCP_ESTABLISHED for
    # datagram sockets too"): /proc/net/unix shows a dgram pair as St 03
    ska.sk_state = skb.sk_state = TCP_ESTABLISHED
    socka.state = sockb.state = SS_CONNECTED
    return 0


def unix_dgram_connect(sock, uaddr, addr_len, flags):
    sk = sock.sk
    if addr_len < 2:
        return -EINVAL
    if uaddr[0] | (uaddr[1] << 8) == AF_UNSPEC:
        sk.peer = None  # disconnect
        sk.sk_state = TCP_CLOSE
        return 0
    name = unix_mkname(uaddr, addr_len)
    if isinstance(name, int):
        return name
    other, err = _lookup(name, sock.type)
    if other is None:
        return err
    sk.peer = other
    sk.sk_state = TCP_ESTABLISHED
    return 0


# ---- data path ---------------------------------------------------------------------

def _iov_bytes(msg):
    iov = msg.msg_iov
    if len(iov) == 1:
        return bytes(iov[0])
    return b"".join(bytes(b) for b in iov)


def _wait_wmem(sk, timeo):
    ok, timeo = sk_wait_event(sk, timeo, lambda: sk.sk_wmem_alloc < sk.sk_sndbuf or sk.sk_err
                              or sk.sk_shutdown & SEND_SHUTDOWN)
    return timeo


def unix_stream_sendmsg(sock, msg, flags):
    sk = sock.sk
    if flags & MSG_OOB:
        return -EOPNOTSUPP
    if msg.msg_name is not None and msg.msg_namelen:
        return -EISCONN if sk.sk_state == TCP_ESTABLISHED else -EOPNOTSUPP
    other = sk.peer
    if other is None:
        return -ENOTCONN
    if sk.sk_shutdown & SEND_SHUTDOWN:
        return -EPIPE
    data = _iov_bytes(msg)
    n = len(data)
    sent = 0
    timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    while sent < n:
        if sk.sk_wmem_alloc >= sk.sk_sndbuf:
            if not timeo:
                return sent or -EAGAIN
            timeo = _wait_wmem(sk, timeo)
            if sk.sk_wmem_alloc >= sk.sk_sndbuf:
                return sent or -EAGAIN
            continue
        other = sk.peer
        if other is None or other.sk_shutdown & RCV_SHUTDOWN or other.rq is None:
            return sent or -EPIPE
        size = min(n - sent, (sk.sk_sndbuf >> 1) - 64)
        chunk = data[sent:sent + size] if size < n else data
        ts = size + SKB_OVERHEAD
        sk.sk_wmem_alloc += ts
        other.rq.append([chunk, 0, ts, sk])
        other.sk_data_ready(other)
        sent += size
    return sent


def unix_dgram_sendmsg(sock, msg, flags):
    sk = sock.sk
    if flags & MSG_OOB:
        return -EOPNOTSUPP
    data = _iov_bytes(msg)
    if len(data) > sk.sk_sndbuf - 32:
        return -EMSGSIZE
    if msg.msg_name is not None and msg.msg_namelen:
        name = unix_mkname(msg.msg_name, msg.msg_namelen)
        if isinstance(name, int):
            return name
        other, err = _lookup(name, sock.type)
        if other is None:
            return err
    else:
        other = sk.peer
        if other is None:
            return -ENOTCONN
        if sock_flag(other, SOCK_DEAD):
            sk.peer = None  # the peer died: say so once, then ENOTCONN
            sk.sk_state = TCP_CLOSE
            return -ECONNREFUSED
    if sk.sk_shutdown & SEND_SHUTDOWN:
        return -EPIPE
    if other.peer is not None and other.peer is not sk:
        return -EPERM  # unix_may_send: it is connected to someone else
    if other.sk_shutdown & RCV_SHUTDOWN:
        return -EPIPE
    if other.peer is not sk and unix_recvq_full(other):
        timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT)
        if not timeo:
            return -EAGAIN
        sk_wait_event(other, timeo, lambda: not unix_recvq_full(other))
        if unix_recvq_full(other):
            return -EAGAIN
    ts = len(data) + SKB_OVERHEAD
    sk.sk_wmem_alloc += ts
    other.rq.append([data, 0, ts, sk])
    other.sk_data_ready(other)
    return len(data)


def unix_seqpacket_sendmsg(sock, msg, flags):
    sk = sock.sk
    if sk.sk_state != TCP_ESTABLISHED:
        return -ENOTCONN
    if sk.sk_shutdown & SEND_SHUTDOWN:
        return -EPIPE
    other = sk.peer
    if other is None or other.sk_shutdown & RCV_SHUTDOWN:
        return -EPIPE
    msg.msg_name = None  # the address is ignored
    return unix_dgram_sendmsg(sock, msg, flags)


def _wait_rq(sk, timeo):
    ok, timeo = sk_wait_event(sk, timeo, lambda: sk.rq or sk.sk_err or sk.sk_shutdown & RCV_SHUTDOWN)
    return timeo


def unix_stream_recvmsg(sock, msg, flags):
    sk = sock.sk
    if sk.sk_state != TCP_ESTABLISHED:
        return -EINVAL
    if flags & MSG_OOB:
        return -EOPNOTSUPP
    total = 0
    for b in msg.msg_iov:
        total += len(b)
    target = total if flags & MSG_WAITALL else 1
    timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    bi = 0  # the iov buffer we fill, and where
    boff = 0
    rq = sk.rq
    qi = 0
    while copied < total:
        if qi >= len(rq):
            if copied >= target:
                break
            err = sock_error(sk)
            if err:
                return copied or err
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if not timeo:
                return copied or -EAGAIN
            timeo = _wait_rq(sk, timeo)
            rq = sk.rq
            if qi >= len(rq) and not timeo:
                return copied or -EAGAIN
            continue
        it = rq[qi]
        data, off = it[0], it[1]
        while off < len(data) and bi < len(msg.msg_iov):
            b = msg.msg_iov[bi]
            k = min(len(data) - off, len(b) - boff)
            b[boff:boff + k] = data[off:off + k]
            off += k
            boff += k
            copied += k
            if boff == len(b):
                bi += 1
                boff = 0
        if flags & MSG_PEEK:
            qi += 1
            continue
        if off >= len(data):
            rq.pop(0)
            _free_item(it)
        else:
            it[1] = off
    return copied


def unix_dgram_recvmsg(sock, msg, flags):
    sk = sock.sk
    if flags & MSG_OOB:
        return -EOPNOTSUPP
    if sock.type == SOCK_SEQPACKET and sk.sk_state != TCP_ESTABLISHED:
        return -ENOTCONN
    if not sk.rq:
        err = sock_error(sk)
        if err:
            return err
        if sk.sk_shutdown & RCV_SHUTDOWN:
            return 0
        timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT)
        if not timeo:
            return -EAGAIN
        _wait_rq(sk, timeo)
        if not sk.rq:
            err = sock_error(sk)
            return err or (0 if sk.sk_shutdown & RCV_SHUTDOWN else -EAGAIN)
    it = sk.rq[0]
    data = it[0]
    copied = 0
    for b in msg.msg_iov:
        k = min(len(b), len(data) - copied)
        if k <= 0:
            break
        b[:k] = data[copied:copied + k]
        copied += k
    if copied < len(data):
        msg.msg_flags |= MSG_TRUNC
    snd = it[3]
    if snd.addr is not None and sock.type == SOCK_DGRAM:
        msg.msg_name = b"\x01\x00" + snd.addr
    if not flags & MSG_PEEK:
        sk.rq.pop(0)
        _free_item(it)
        wq = _wq(sk)  # unix_dgram_peer_wake: senders waiting for room
        if wq is not None and wq.head:
            wait.wake_up_interruptible_sync_poll(wq, _POLLOUT_KEY)
    return len(data) if flags & MSG_TRUNC else copied


def unix_shutdown(sock, mode):
    if mode < 0 or mode > 2:
        return -EINVAL
    sk = sock.sk
    mode += 1
    sk.sk_shutdown |= mode
    other = sk.peer
    sk.sk_state_change(sk)
    if other is not None and sk.sk_type != SOCK_DGRAM:
        pm = (SEND_SHUTDOWN if mode & RCV_SHUTDOWN else 0) | (RCV_SHUTDOWN if mode & SEND_SHUTDOWN else 0)
        other.sk_shutdown |= pm
        other.sk_state_change(other)
    return 0


# ---- poll, ioctl ------------------------------------------------------------------

def unix_poll(f, sock):
    sk = sock.sk
    mask = 0
    sh = sk.sk_shutdown
    if sk.sk_err:
        mask |= EPOLLERR
    if sh == SHUTDOWN_MASK:
        mask |= EPOLLHUP
    if sh & RCV_SHUTDOWN:
        mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
    if sk.rq:
        mask |= EPOLLIN | EPOLLRDNORM
    st = sk.sk_state
    if st == TCP_CLOSE:
        mask |= EPOLLHUP
    if unix_writable(sk, st):  # also when the peer has gone: no stuck writers
        mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
    return mask


def unix_dgram_poll(f, sock):
    sk = sock.sk
    mask = 0
    sh = sk.sk_shutdown
    st = sk.sk_state
    if sk.sk_err:
        mask |= EPOLLERR
    if sh & RCV_SHUTDOWN:
        mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
    if sh == SHUTDOWN_MASK:
        mask |= EPOLLHUP
    if sk.rq:
        mask |= EPOLLIN | EPOLLRDNORM
    if sk.sk_type == SOCK_SEQPACKET:
        if st == TCP_CLOSE:
            mask |= EPOLLHUP
    writable = unix_writable(sk, st)
    if writable:
        other = sk.peer
        if other is not None and other.peer is not sk and unix_recvq_full(other):
            writable = False
    if writable:
        mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
    return mask


def unix_ioctl(sock, cmd, arg):
    sk = sock.sk
    if cmd == SIOCOUTQ:
        return sk.sk_wmem_alloc
    if cmd == SIOCINQ:
        if sk.sk_state == TCP_LISTEN:
            return -EINVAL
        if sk.sk_type == SOCK_STREAM:
            n = 0
            for it in sk.rq:
                n += len(it[0]) - it[1]
            return n
        return len(sk.rq[0][0]) if sk.rq else 0
    return -ENOIOCTLCMD


_P = net_socket.proto_ops
unix_stream_ops = _P(AF_UNIX, release=unix_release, bind=unix_bind, connect=unix_stream_connect,
                     socketpair=unix_socketpair, accept=unix_accept, getname=unix_getname,
                     poll=unix_poll, ioctl=unix_ioctl, listen=unix_listen, shutdown=unix_shutdown,
                     sendmsg=unix_stream_sendmsg, recvmsg=unix_stream_recvmsg)
unix_dgram_ops = _P(AF_UNIX, release=unix_release, bind=unix_bind, connect=unix_dgram_connect,
                    socketpair=unix_socketpair, getname=unix_getname, poll=unix_dgram_poll,
                    ioctl=unix_ioctl, shutdown=unix_shutdown, sendmsg=unix_dgram_sendmsg,
                    recvmsg=unix_dgram_recvmsg)
unix_seqpacket_ops = _P(AF_UNIX, release=unix_release, bind=unix_bind, connect=unix_stream_connect,
                        socketpair=unix_socketpair, accept=unix_accept, getname=unix_getname,
                        poll=unix_dgram_poll, ioctl=unix_ioctl, listen=unix_listen,
                        shutdown=unix_shutdown, sendmsg=unix_seqpacket_sendmsg,
                        recvmsg=unix_dgram_recvmsg)

unix_family_ops = net_socket.net_proto_family(AF_UNIX, unix_create)
net_socket.sock_register(unix_family_ops)


def proc_net_unix():
    """/proc/net/unix: Num RefCount Protocol Flags Type St Inode Path."""
    lines = ["Num       RefCount Protocol Flags    Type St Inode Path"]
    seen = []
    for name, sk in _names.items():
        if sk is not None and sk not in seen:
            seen.append(sk)
    for s in net_socket_all():
        sk = s.sk
        if sk is not None and sk.sk_family == AF_UNIX and sk not in seen:
            seen.append(sk)
    for sk in seen:
        s = sk.sk_socket
        st = s.state if s is not None else (SS_CONNECTED if sk.sk_state == TCP_ESTABLISHED else SS_UNCONNECTED)
        path = ""
        if sk.addr is not None:
            path = " @" + sk.addr[1:].decode() if sk.addr[:1] == b"\x00" else " " + sk.addr[:-1].decode()
        lines.append("0000000000000000: %08X %08X %08X %04X %02X %5d%s" % (
            2, 0, 0x10000 if sk.sk_state == TCP_LISTEN else 0, sk.sk_type, st,
            s.i_ino if s is not None else 0, path))
    return "\n".join(lines)


def net_socket_all():
    """Every open socket (through the fd table: sockfs keeps no list of its own)."""
    from ksock.fs import fdtable
    out = []
    for f in fdtable.current.files.fd:
        if f is not None and f.f_op is net_socket.socket_file_ops and f.private_data not in out:
            out.append(f.private_data)
    return out
