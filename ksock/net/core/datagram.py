# net/core/datagram.c: datagram_poll (the poll of every datagram socket) and,
# from net/ipv4/udp.c, udp_poll and udp_ioctl. Bits as Linux sets them.
from ksock.compat import const
from ksock.net.core import skbuff

EPOLLIN = const(0x1)
EPOLLPRI = const(0x2)
EPOLLOUT = const(0x4)
EPOLLERR = const(0x8)
EPOLLHUP = const(0x10)
EPOLLRDNORM = const(0x40)
EPOLLWRNORM = const(0x100)
EPOLLWRBAND = const(0x200)
EPOLLRDHUP = const(0x2000)
RCV_SHUTDOWN = const(1)
SHUTDOWN_MASK = const(3)
TCP_SYN_SENT = const(2)
TCP_CLOSE = const(7)
SOCK_STREAM = const(1)
SOCK_SEQPACKET = const(5)
SIOCOUTQ = const(0x5411)  # == TIOCOUTQ
SIOCINQ = const(0x541B)  # == FIONREAD
ENOIOCTLCMD = const(515)


_skb_queue_len = skbuff.skb_queue_len


def datagram_poll(f, sock, wait=None):
    """The mask of a datagram socket (poll(2) asks every fd each call: kept
    flat, sock_writeable inlined)."""
    sk = sock.sk
    mask = EPOLLERR if sk.sk_err else 0  # sock_poll() already did sock_poll_wait()
    sh = sk.sk_shutdown  # (no error queue: IP_RECVERR queues nothing here)
    if sh:
        if sh & RCV_SHUTDOWN:
            mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
        if sh == SHUTDOWN_MASK:
            mask |= EPOLLHUP
    q = getattr(sk, "sk_receive_queue", None)
    if q is not None and _skb_queue_len(q):
        mask |= EPOLLIN | EPOLLRDNORM
    t = sk.sk_type
    if t == SOCK_STREAM or t == SOCK_SEQPACKET:  # connection_based()
        if sk.sk_state == TCP_CLOSE:
            mask |= EPOLLHUP
        if sk.sk_state == TCP_SYN_SENT:
            return mask
    if sk.sk_wmem_alloc < (sk.sk_sndbuf >> 1):  # sock_writeable()
        mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
    return mask


# udp_poll: checksums are verified in udp_rcv before queueing, so the queue
# holds no false positives to weed out (first_packet_length in Linux); what is
# left is datagram_poll itself (one call less per fd).
udp_poll = datagram_poll


def udp_ioctl(sk, cmd, arg):
    """SIOCINQ: the payload length of the first queued datagram; SIOCOUTQ: bytes
    not yet sent."""
    if cmd == SIOCOUTQ:
        return sk.sk_wmem_alloc
    if cmd == SIOCINQ:
        q = getattr(sk, "sk_receive_queue", None)
        skb = skbuff.skb_peek(q) if q is not None else None
        return skb.len - 8 if skb is not None else 0
    return -ENOIOCTLCMD
