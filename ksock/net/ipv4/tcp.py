# net/ipv4/tcp.c (+ include/net/tcp_states.h): TCP states with Linux's names,
# TCPF_* masks, the one tcp_set_state(), tcp_prot, and the IPPROTO_TCP options.
# The data path (tcp_input/tcp_output/tcp_timer) lands in its own files.
import struct
from ksock.compat import const
from ksock.uapi.errno import (EINVAL, ENOPROTOOPT, ECONNREFUSED, ECONNRESET, EPIPE, EAGAIN,
                              ENOTCONN, ENOBUFS)
from ksock.uapi.in_ import (SOL_TCP, TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE,
                            TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT, TCP_INFO, TCP_QUICKACK)
from ksock.uapi.socket import (RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, MSG_PEEK, MSG_TRUNC,
                               MSG_DONTWAIT, MSG_WAITALL)
from ksock.uapi.poll import POLLIN, POLLRDNORM, POLLOUT, POLLWRNORM, POLLHUP, POLLRDHUP, POLLERR
from ksock.kernel import softirq, timer
from ksock.net.core import sysctl
from ksock.net.core import sk_mem
from ksock.net.core.sock import (proto, sock_flag, sock_set_flag, sock_reset_flag, sock_error,
                                 SOCK_KEEPOPEN, SOCK_BINDPORT_LOCK, SOCK_BINDADDR_LOCK, SOCK_DONE,
                                 SOCK_DEAD, SOCK_LINGER, HZ, MAX_SCHEDULE_TIMEOUT)
from ksock.net.ipv4.devinet import INADDR_ANY
from ksock.net.ipv4.proc import tcp as MIB, tcpext as XMIB
from ksock.net.ipv4 import tcp_output, tcp_timer
from ksock.net.ipv4 import inet_hashtables as ih
from ksock.net.ipv4 import inet_connection_sock as icsk
from ksock.net.ipv4.ip_sockglue import ip_setsockopt, ip_getsockopt

TCP_ESTABLISHED = const(1)
TCP_SYN_SENT = const(2)
TCP_SYN_RECV = const(3)
TCP_FIN_WAIT1 = const(4)
TCP_FIN_WAIT2 = const(5)
TCP_TIME_WAIT = const(6)
TCP_CLOSE = const(7)
TCP_CLOSE_WAIT = const(8)
TCP_LAST_ACK = const(9)
TCP_LISTEN = const(10)
TCP_CLOSING = const(11)
TCP_NEW_SYN_RECV = const(12)

TCPF_ESTABLISHED = const(1 << 1)
TCPF_SYN_SENT = const(1 << 2)
TCPF_SYN_RECV = const(1 << 3)
TCPF_FIN_WAIT1 = const(1 << 4)
TCPF_FIN_WAIT2 = const(1 << 5)
TCPF_TIME_WAIT = const(1 << 6)
TCPF_CLOSE = const(1 << 7)
TCPF_CLOSE_WAIT = const(1 << 8)
TCPF_LAST_ACK = const(1 << 9)
TCPF_LISTEN = const(1 << 10)
TCPF_CLOSING = const(1 << 11)
TCPF_NEW_SYN_RECV = const(1 << 12)

TCP_STATE_NAMES = ("", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
                   "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
                   "NEW_SYN_RECV")

TCP_MSS_DEFAULT = const(536)
TCP_MIN_MSS = const(88)
MAX_TCP_WINDOW = const(32767)
MAX_TCP_KEEPIDLE = const(32767)
MAX_TCP_KEEPINTVL = const(32767)
MAX_TCP_KEEPCNT = const(127)
TCP_NAGLE_OFF = const(1)
TCP_NAGLE_CORK = const(2)
TCP_NAGLE_PUSH = const(4)
SIOCINQ = const(0x541B)  # == FIONREAD
SIOCOUTQ = const(0x5411)  # == TIOCOUTQ
SIOCOUTQNSD = const(0x894B)
ENOIOCTLCMD = const(515)


class tcp_sock(icsk.inet_connection_sock):
    """struct tcp_sock. Sequence numbers are unwrapped integers (wire.tcp.unwrap):
    plain comparisons, masked to 32 bits only on the wire. The send and receive
    data live in two rings of chunk slots (net/core/sk_mem.py): their logical
    sizes come from sk_sndbuf/sk_rcvbuf, chunks are taken only while they hold data."""
    sk_type = 1  # SOCK_STREAM
    sk_protocol = 6
    nonagle = 0
    user_mss = 0
    mss_cache = TCP_MSS_DEFAULT
    advmss = 1460
    rcv_mss = TCP_MSS_DEFAULT
    keepalive_time = 0  # 0: net.ipv4.tcp_keepalive_time (seconds)
    keepalive_intvl = 0
    keepalive_probes = 0
    syn_retries = 0
    linger2 = 0
    # connection state (set by tcp_connect_init / the child's creation)
    sk_dst = None  # (dev, nexthop, saddr) route of an connected socket
    snd_una = 0  # in SYN_SENT (and a simultaneous open's SYN_RECV): the ISS
    snd_nxt = 0
    snd_max = 0  # highest sequence sent (BSD's snd_max; Linux's snd_nxt role)
    snd_wnd = 0
    snd_wl1 = 0
    max_window = 0
    write_seq = 0  # end of the data the user queued
    fin_queued = 0
    snd_ring = None  # slot table (sk_mem.ring_new), made with the first data
    snd_size = 0  # (class defaults below: the ring sizes of the default buffers)
    snd_head = 0  # ring index of the byte at snd_base
    snd_base = 0  # sequence number of the first unacked data byte
    rcv_nxt = 0
    rcv_wnd = 0
    rcv_wup = 0
    copied_seq = 0  # what the user has read
    rcv_ring = None  # made with the first data that arrives
    rcv_size = 0
    rcv_ssthresh = 0  # the window offered at most (tcp_select_window) once memory pressure clamped it; 0: the ring
    rcv_head = 0  # ring index of the byte at copied_seq
    rcv_fin = 0  # 1 once the peer's FIN is in order (it takes a sequence number)
    ofo = None  # [[start, end], ...] out-of-order ranges already in the ring
    ofo_fin = -1  # sequence number of an out-of-order FIN
    rcv_unacked = 0
    ack_pending = 0
    ack_queued = 0  # on tcp_output's end-of-batch ACK list
    # Linux's icsk_ack: quick-ACK credits (ACK at once while > 0 and not pingpong),
    # ato (0 until the first data; the delayed-ACK timeout is fixed at 40 ms here),
    # when in-order data last came, and interactive (pingpong) mode
    ack_quick = 0
    ack_ato = 0
    ack_lrcvtime = 0
    pingpong = 0
    wscale_ok = 0
    snd_wscale = 0
    rcv_wscale = 0
    snd_cwnd = 10
    snd_cwnd_cnt = 0
    snd_ssthresh = 0x3FFFFFFF
    dup_acks = 0
    high_seq = 0  # NewReno "recover"
    in_recovery = 0
    srtt8 = 0
    rttvar4 = 0
    backoff = 0
    retransmits = 0
    probe_mode = 0
    probes_out = 0
    rtt_seq = 0
    rtt_ts = 0
    rcv_tstamp = 0
    rtx_timer = None
    delack_timer = None
    ka_timer = None  # keepalive, FIN_WAIT2 and TIME_WAIT (sk_timer in Linux)
    sk_err_soft = 0


# A sock stores only what differs from these: the buffers of tcp_{r,w}mem's
# defaults (as tcp_init_sock sets them) and the ring sizes they give.
tcp_sock.sk_sndbuf = sysctl.sysctl("net.ipv4.tcp_wmem")[1]
tcp_sock.sk_rcvbuf = sysctl.sysctl("net.ipv4.tcp_rmem")[1]
tcp_sock.snd_size = tcp_output.tcp_snd_ring_size(tcp_sock)
tcp_sock.rcv_size = tcp_output.tcp_rcv_ring_size(tcp_sock)
tcp_sock.rcv_wscale = tcp_output.tcp_rcv_wscale(tcp_sock.rcv_size)  # (read only when wscale_ok)


def _set_or_default(sk, name, v):
    """sk.name = v, stored in the instance only when it differs from the class."""
    if v != getattr(tcp_sock, name):
        setattr(sk, name, v)
    elif getattr(sk, name) != v:
        delattr(sk, name)


def tcp_set_state(sk, state):
    """Every TCP state change goes through here (tcp_set_state): CurrEstab and
    EstabResets as Linux counts them; entering CLOSE unhashes and, unless the
    user bound the port, gives it back (RFC 9293 3.3.2: CLOSED is the
    fictional state of no TCB)."""
    old = sk.sk_state
    if state == TCP_ESTABLISHED:
        if old != TCP_ESTABLISHED:
            MIB.CurrEstab += 1
    elif old == TCP_ESTABLISHED:
        MIB.CurrEstab -= 1
    if state == TCP_CLOSE:
        if old == TCP_CLOSE_WAIT or old == TCP_ESTABLISHED:
            MIB.EstabResets += 1
        if old != TCP_CLOSE or sk.icsk_bind_hash is not None:
            sk.sk_prot.unhash(sk)
            if sk.icsk_bind_hash is not None and not (sk.sk_userlocks & SOCK_BINDPORT_LOCK):
                ih.inet_put_port(sk)
    sk.sk_state = state


def tcp_enter_memory_pressure():
    XMIB.TCPMemoryPressures += 1


def tcp_clear_xmit_timers(sk):
    for t in (sk.rtx_timer, sk.delack_timer, sk.ka_timer):
        if t is not None:
            timer.del_timer(t)


def tcp_done(sk):
    """The connection is over (reset, timeout, last ACK): CLOSE, timers off,
    readers and writers woken; an orphan is destroyed."""
    if sk.sk_state == TCP_SYN_SENT or sk.sk_state == TCP_SYN_RECV:
        MIB.AttemptFails += 1
    tcp_set_state(sk, TCP_CLOSE)
    tcp_clear_xmit_timers(sk)
    sk.sk_shutdown = SHUTDOWN_MASK
    if not sock_flag(sk, SOCK_DEAD):
        sk.sk_state_change(sk)
    else:
        tcp_destroy(sk)


def tcp_free_rings(sk):
    """Every chunk back to the pool (inet_csk_destroy_sock's sk_mem_reclaim);
    the sock has no TCB any more (sk_dst None)."""
    if sk.snd_ring is not None:
        sk_mem.ring_free(sk, sk_mem.SK_MEM_SEND, sk.snd_ring)
        sk.snd_ring = None
    if sk.rcv_ring is not None:
        sk_mem.ring_free(sk, sk_mem.SK_MEM_RECV, sk.rcv_ring)
        sk.rcv_ring = None
    if sk.ofo is not None:
        sk.ofo = None
    if sk.sk_dst is not None:
        sk_mem.tcp_memory.sockets -= 1
        sk.sk_dst = None


def tcp_destroy(sk):
    """inet_csk_destroy_sock: drop the rings so an orphan frees its memory."""
    tcp_clear_xmit_timers(sk)
    tcp_free_rings(sk)
    if sk.icsk_bind_hash is not None:
        ih.inet_put_port(sk)


def tcp_reset(sk):
    """A valid RST arrived: the error depends on the state (tcp_reset)."""
    st = sk.sk_state
    if st == TCP_SYN_SENT:
        sk.sk_err = ECONNREFUSED
    elif st == TCP_CLOSE_WAIT:
        sk.sk_err = EPIPE
    elif st != TCP_CLOSE:
        sk.sk_err = ECONNRESET
    tcp_done(sk)
    if not sock_flag(sk, SOCK_DEAD):
        sk.sk_error_report(sk)


def tcp_init_sock(sk):
    """Per-TCP defaults: buffers from net.ipv4.tcp_{r,w}mem[1]."""
    _set_or_default(sk, "sk_sndbuf", sysctl.sysctl("net.ipv4.tcp_wmem")[1])
    _set_or_default(sk, "sk_rcvbuf", sysctl.sysctl("net.ipv4.tcp_rmem")[1])
    return 0


def tcp_disconnect(sk, flags):
    """Abort to CLOSE (listen stop, connect to AF_UNSPEC, a failed connect):
    RST to a synchronized peer; the socket can be used again after."""
    old = sk.sk_state
    if old != TCP_CLOSE:
        tcp_set_state(sk, TCP_CLOSE)
    if old == TCP_LISTEN:
        icsk.inet_csk_listen_stop(sk)
    elif (1 << old) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2
                       | TCPF_LAST_ACK | TCPF_CLOSING | TCPF_SYN_RECV):
        tcp_output.tcp_send_active_reset(sk)
    tcp_clear_xmit_timers(sk)
    sk.sk_shutdown = 0
    sock_reset_flag(sk, SOCK_DONE)
    sk.inet_dport = 0
    sk.inet_daddr = INADDR_ANY
    if not (sk.sk_userlocks & SOCK_BINDADDR_LOCK):
        sk.inet_saddr = sk.inet_rcv_saddr = INADDR_ANY
    tcp_free_rings(sk)
    sk.fin_queued = sk.rcv_fin = 0
    return 0


# ---- the user's side: sendmsg, recvmsg, close, shutdown, poll -----------------------

def _wait(sk, cond, timeo):
    return softirq.wait_event(cond, -1 if timeo >= MAX_SCHEDULE_TIMEOUT else timeo)


def sk_stream_wait_connect(sk, timeo):
    """0 once established, else -errno (sk_stream_wait_connect)."""
    while True:
        if sk.sk_err:
            return sock_error(sk)
        if not (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
            return -EPIPE
        if not timeo:
            return -EAGAIN
        if not _wait(sk, lambda: sk.sk_err or not (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV), timeo):
            return -EAGAIN
        if (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT):
            return 0


def tcp_send_space(sk):
    return sk.snd_size - (sk.write_seq - sk.snd_base)


def sk_stream_memory_free(sk):
    """A chunk could be charged for more data now (or the tail chunk has room)."""
    q = sk.write_seq - sk.snd_base
    if not q or (sk.snd_head + q) & (sk_mem.CHUNK - 1):
        return True
    return sk_mem.sk_wmem_schedule(sk, 1)


VM_WAIT_MS = const(20)  # Linux: 2 jiffies + random below HZ/5


def tcp_sendmsg(sk, msg, flags):
    """tcp_sendmsg_locked: copy into the send ring, push, wait for room."""
    timeo = 0 if flags & MSG_DONTWAIT else sk.sk_sndtimeo
    if not (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT):
        err = sk_stream_wait_connect(sk, timeo)
        if err:
            return err
    copied = 0
    for data in msg.msg_iov:
        mv = memoryview(data)
        n = len(mv)
        pos = 0
        while pos < n:
            if sk.sk_err:
                return copied or sock_error(sk)
            if sk.sk_shutdown & SEND_SHUTDOWN or sk.sk_dst is None:
                return copied or -EPIPE
            room = tcp_send_space(sk)
            k = n - pos
            if k > room:
                k = room
            if k > 0:
                ring = sk.snd_ring
                if ring is None:
                    ring = tcp_timer.tcp_snd_ring_make(sk)
                    if ring is None:
                        return copied or -ENOBUFS  # no heap for the ring's slot table
                size = sk.snd_size
                q = sk.write_seq - sk.snd_base
                i = (sk.snd_head + q) % size
                # sk_wmem_schedule per chunk; an empty queue always gets one (Linux's
                # force_schedule when the write and retransmit queues are empty)
                force = not q and not sk.sk_wmem_queued
                if force and k > sk_mem.CHUNK - (i & (sk_mem.CHUNK - 1)):
                    k = sk_mem.CHUNK - (i & (sk_mem.CHUNK - 1))
                k = sk_mem.ring_ensure(sk, sk_mem.SK_MEM_SEND, ring, size, i, k, force)
            if k <= 0:
                tcp_output.tcp_push_pending_frames(sk)
                if not timeo:
                    return copied or -EAGAIN
                if room > 0 and sk_stream_memory_free(sk):
                    # the budget allows a chunk but the heap had no block for it:
                    # sk_stream_wait_memory's vm_wait, a short sleep with the stack
                    # running (ACKs free chunks), not a retry loop that starves it
                    una = sk.snd_una
                    _wait(sk, lambda: sk.sk_err or sk.sk_shutdown & SEND_SHUTDOWN or sk.snd_ring is None
                          or sk.snd_una != una, VM_WAIT_MS)
                    if timeo < MAX_SCHEDULE_TIMEOUT:
                        timeo -= VM_WAIT_MS  # at most (about) SO_SNDTIMEO in all
                        if timeo <= 0:
                            return copied or -EAGAIN
                    continue
                if not _wait(sk, lambda: sk.sk_err or sk.sk_shutdown & SEND_SHUTDOWN
                             or sk.sk_dst is None or tcp_send_space(sk) > 0 and sk_stream_memory_free(sk), timeo):
                    return copied or -EAGAIN
                continue
            sk_mem.ring_write(ring, size, i, mv, pos, k)
            sk.write_seq += k
            pos += k
            copied += k
            if sk.write_seq - sk.snd_nxt >= sk.mss_cache:
                tcp_output.tcp_write_xmit(sk)
    tcp_output.tcp_push_pending_frames(sk)
    return copied


def tcp_inq(sk):
    """Bytes the user can read now (SIOCINQ)."""
    if sk.rcv_ring is None:  # no data ever came (or no TCB)
        return 0
    return sk.rcv_nxt - sk.copied_seq - sk.rcv_fin


def tcp_cleanup_rbuf(sk):
    """After a read: a window update when the window grew enough (tcp_cleanup_rbuf)."""
    if not (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2):
        return
    if sk.ack_pending:
        tcp_output.tcp_send_ack(sk)
        return
    if sk.sk_shutdown & RCV_SHUTDOWN:
        return
    cur = tcp_output.tcp_receive_window(sk)
    size = sk.rcv_size
    if 2 * cur <= size:
        # "lots" of space freed: the window __tcp_select_window would offer now
        # (SWS-rounded) is at least twice what the peer may still send
        free = sk.copied_seq + size - sk.rcv_nxt
        if free < sk.rcv_mss and free < (size >> 1):
            free = 0
        if sk.rcv_ssthresh and free > sk.rcv_ssthresh:
            free = sk.rcv_ssthresh  # what tcp_select_window would offer (memory pressure)
        if free and free >= 2 * cur:
            tcp_output.tcp_send_ack(sk)


def _copy_out(sk, buf, boff, seqoff, k):
    sk_mem.ring_read(sk.rcv_ring, sk.rcv_size, (sk.rcv_head + seqoff) % sk.rcv_size, buf, boff, k)


def tcp_rcv_release(sk, i, n):
    """Chunks of ring positions [i, i+n) holding no byte still to be read (in
    order or out of order) go back to the pool."""
    sk_mem.ring_release(sk, sk_mem.SK_MEM_RECV, sk.rcv_ring, sk.rcv_size, i, n, sk.rcv_head,
                        sk.rcv_nxt - sk.rcv_fin - sk.copied_seq, sk.ofo, sk.copied_seq)


def tcp_recvmsg(sk, msg, flags):
    """tcp_recvmsg_locked: copy from the receive ring; wait for rcvlowat (or
    everything with MSG_WAITALL); MSG_PEEK leaves it, MSG_TRUNC discards it."""
    if sk.sk_state == TCP_LISTEN:
        return -ENOTCONN
    total = 0
    for b in msg.msg_iov:
        total += len(b)
    timeo = 0 if flags & MSG_DONTWAIT else sk.sk_rcvtimeo
    target = total if flags & MSG_WAITALL else min(total, sk.sk_rcvlowat)
    copied = 0
    peek_off = 0
    iov = msg.msg_iov
    vi = 0
    voff = 0
    while copied < total:
        avail = tcp_inq(sk) - peek_off
        if avail > 0:
            k = min(avail, total - copied)
            left = k
            while left:
                b = iov[vi]
                m = min(len(b) - voff, left)
                if m <= 0:
                    vi += 1
                    voff = 0
                    continue
                if not flags & MSG_TRUNC:
                    _copy_out(sk, b, voff, peek_off, m)
                voff += m
                left -= m
                if flags & MSG_PEEK:
                    peek_off += m
                else:
                    h = sk.rcv_head
                    sk.copied_seq += m
                    sk.rcv_head = (h + m) % sk.rcv_size
                    tcp_rcv_release(sk, h, m)  # read out: chunks back to the pool
            copied += k
            if copied >= target:
                break
            continue
        if copied >= target and copied:
            break
        if copied:
            if sk.sk_err or sk.sk_state == TCP_CLOSE or sk.sk_shutdown & RCV_SHUTDOWN or not timeo:
                break
        else:
            if sock_flag(sk, SOCK_DONE):
                break
            if sk.sk_err:
                return sock_error(sk)
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if sk.sk_state == TCP_CLOSE:
                return -ENOTCONN
            if not timeo:
                return -EAGAIN
        if flags & MSG_PEEK and copied:
            break
        tcp_cleanup_rbuf(sk)
        if not _wait(sk, lambda: tcp_inq(sk) > peek_off or sk.sk_err or sk.sk_shutdown & RCV_SHUTDOWN
                     or sk.sk_state == TCP_CLOSE, timeo):
            if not copied:
                return -EAGAIN
            break
    if not flags & MSG_PEEK:
        tcp_cleanup_rbuf(sk)
    return copied


# new_state[]: where close()/shutdown() moves each state, and whether a FIN goes out
_new_state = (
    (TCP_CLOSE, 0), (TCP_FIN_WAIT1, 1), (TCP_CLOSE, 0), (TCP_FIN_WAIT1, 1), (TCP_FIN_WAIT1, 0),
    (TCP_FIN_WAIT2, 0), (TCP_CLOSE, 0), (TCP_CLOSE, 0), (TCP_LAST_ACK, 1), (TCP_LAST_ACK, 0),
    (TCP_CLOSE, 0), (TCP_CLOSING, 0), (TCP_CLOSE, 0),
)


def tcp_close_state(sk):
    """Move on for a FIN we will send; True when one must go out."""
    ns, fin = _new_state[sk.sk_state]
    tcp_set_state(sk, ns)
    return fin


def tcp_shutdown(sk, how):
    """SHUT_WR: a FIN after the queued data (RFC 9293 3.10.4 CLOSE call).
    -ENOBUFS, and nothing changed, when the heap has no room for the FIN's
    retransmit timer."""
    if not how & SEND_SHUTDOWN:
        return 0
    if (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE_WAIT):
        if sk.sk_state == TCP_SYN_SENT:
            tcp_set_state(sk, TCP_CLOSE)
            return 0
        if not tcp_timer.tcp_rtx_timer_make(sk):
            sk.sk_shutdown &= ~SEND_SHUTDOWN
            return -ENOBUFS
        tcp_close_state(sk)
        tcp_output.tcp_send_fin(sk)
    return 0


def tcp_close_timers(sk):
    """What an orphan may still need: the FIN's retransmit timer and, from
    FIN_WAIT1/2, the FIN_WAIT2 timeout. False when the heap has no room."""
    if not tcp_timer.tcp_rtx_timer_make(sk):
        return False
    if (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_SYN_RECV | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2):
        return tcp_timer.tcp_ka_timer_make(sk)
    return True


def tcp_close(sk, timeout):
    """close(): RST when unread data would be lost or SO_LINGER is 0, else a FIN;
    linger waits for the handshake to finish; the sock then lives on as an orphan
    until the FIN exchange ends."""
    sk.sk_shutdown = SHUTDOWN_MASK
    st = sk.sk_state
    if st == TCP_LISTEN:
        tcp_set_state(sk, TCP_CLOSE)
        icsk.inet_csk_listen_stop(sk)
    unread = tcp_inq(sk)
    if sk.sk_state == TCP_CLOSE:
        pass
    elif unread > 0:
        XMIB.TCPAbortOnClose += 1
        tcp_set_state(sk, TCP_CLOSE)
        tcp_output.tcp_send_active_reset(sk)
    elif sock_flag(sk, SOCK_LINGER) and not sk.sk_lingertime:
        XMIB.TCPAbortOnData += 1
        tcp_disconnect(sk, 0)
    elif sk.sk_state == TCP_SYN_SENT:
        tcp_set_state(sk, TCP_CLOSE)
    elif not tcp_close_timers(sk):
        XMIB.TCPAbortOnMemory += 1  # as Linux's tcp_check_oom: no memory for the orphan, reset
        tcp_set_state(sk, TCP_CLOSE)
        tcp_output.tcp_send_active_reset(sk)
    elif tcp_close_state(sk):
        try:
            tcp_output.tcp_send_fin(sk)
        except MemoryError:  # a fragmented heap had no block for the FIN's state (a grown
            XMIB.TCPAbortOnMemory += 1  # attribute table): close(2) never fails, it resets
            tcp_set_state(sk, TCP_CLOSE)
            tcp_output.tcp_send_active_reset(sk)
    if timeout and sk.sk_state != TCP_CLOSE:
        _wait(sk, lambda: (1 << sk.sk_state) & (TCPF_FIN_WAIT2 | TCPF_TIME_WAIT | TCPF_CLOSE), timeout)
    sock_set_flag(sk, SOCK_DEAD)
    sk.sk_socket = None
    st = sk.sk_state
    if st == TCP_FIN_WAIT2:
        tmo = (sk.linger2 or sysctl.sysctl("net.ipv4.tcp_fin_timeout")) * HZ
        try:
            timer.mod_timer_in(sk.ka_timer, tmo)  # an orphan does not wait forever
        except MemoryError:  # no room in the timer heap: an orphan that cannot time out is reset
            XMIB.TCPAbortOnMemory += 1
            tcp_set_state(sk, TCP_CLOSE)
            tcp_output.tcp_send_active_reset(sk)
            st = TCP_CLOSE
    if st == TCP_CLOSE:
        tcp_destroy(sk)


def tcp_poll(file, sock):
    """Readiness as Linux's tcp_poll reports it, state by state."""
    sk = sock.sk
    st = sk.sk_state
    if st == TCP_LISTEN:
        q = sk.icsk_accept_queue
        return POLLIN | POLLRDNORM if q is not None and q.rskq_accept_head is not None else 0
    mask = 0
    shut = sk.sk_shutdown
    if shut == SHUTDOWN_MASK or st == TCP_CLOSE:
        mask |= POLLHUP
    if shut & RCV_SHUTDOWN:
        mask |= POLLIN | POLLRDNORM | POLLRDHUP
    if st != TCP_SYN_SENT and st != TCP_SYN_RECV:
        if tcp_inq(sk) >= (sk.sk_rcvlowat or 1):
            mask |= POLLIN | POLLRDNORM
        if not shut & SEND_SHUTDOWN:
            if sk.sk_dst is None or tcp_stream_is_writeable(sk):
                mask |= POLLOUT | POLLWRNORM
        else:
            mask |= POLLOUT | POLLWRNORM
    if sk.sk_err:
        mask |= POLLERR
    return mask


def tcp_stream_is_writeable(sk):
    """sk_stream_is_writeable: free space at least a third of the buffer
    (sk_stream_wspace >= sk_stream_min_wspace: free >= queued / 2)."""
    queued = sk.write_seq - sk.snd_base
    return sk.snd_size - queued >= queued >> 1


def tcp_ioctl(sk, cmd):
    """SIOCINQ / SIOCOUTQ / SIOCOUTQNSD as Linux answers them (-EINVAL on a listener)."""
    if sk.sk_state == TCP_LISTEN:
        return -EINVAL
    if cmd == SIOCINQ:
        return tcp_inq(sk)
    if sk.sk_dst is None:
        return 0
    if cmd == SIOCOUTQ:
        return sk.write_seq - sk.snd_una if sk.write_seq > sk.snd_una else 0
    if cmd == SIOCOUTQNSD:
        return sk.write_seq - sk.snd_nxt if sk.write_seq > sk.snd_nxt else 0
    return -ENOIOCTLCMD


def tcp_set_keepalive(sk, val):
    """SO_KEEPALIVE on an open connection (re)arms the keepalive timer, made
    here on first use (a MemoryError leaves the flag unset: the call fails)."""
    if (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_LISTEN):
        return
    if val:
        if sk.ka_timer is None:
            sk.ka_timer = timer.timer_list(tcp_timer.tcp_keepalive_timer, sk)
        timer.mod_timer_in(sk.ka_timer, keepalive_time_when(sk) * HZ)
    elif sk.ka_timer is not None and sk.sk_state != TCP_TIME_WAIT and sk.sk_state != TCP_FIN_WAIT2:
        timer.del_timer(sk.ka_timer)


def keepalive_time_when(sk):
    return sk.keepalive_time or sysctl.sysctl("net.ipv4.tcp_keepalive_time")


def tcp_setsockopt(sk, level, optname, optval, optlen):
    if level != SOL_TCP:
        return ip_setsockopt(sk, level, optname, optval, optlen)
    if optlen < 4:
        return -EINVAL
    val = struct.unpack_from("<i", optval, 0)[0]
    if optname == TCP_NODELAY:
        if val:
            sk.nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH
            tcp_output.tcp_push_pending_frames(sk)  # as Linux: setting it pushes
        else:
            sk.nonagle &= ~TCP_NAGLE_OFF
    elif optname == TCP_CORK:
        if val:
            sk.nonagle |= TCP_NAGLE_CORK
        else:
            sk.nonagle &= ~TCP_NAGLE_CORK
            if sk.nonagle & TCP_NAGLE_OFF:
                sk.nonagle |= TCP_NAGLE_PUSH
            tcp_output.tcp_push_pending_frames(sk)
    elif optname == TCP_MAXSEG:
        if val and (val < TCP_MIN_MSS or val > MAX_TCP_WINDOW):
            return -EINVAL
        sk.user_mss = val
    elif optname == TCP_QUICKACK:
        tcp_sock_set_quickack(sk, val)
    elif optname == TCP_KEEPIDLE:
        if val < 1 or val > MAX_TCP_KEEPIDLE:
            return -EINVAL
        sk.keepalive_time = val
        if (sock_flag(sk, SOCK_KEEPOPEN) and sk.ka_timer is not None
                and not (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_LISTEN)):
            # tcp_sock_set_keepidle_locked: re-arm for what is left of the new idle time
            from ksock.kernel import time as ktime
            left = val * HZ - ktime.clock.diff(ktime.clock.now_ms(), sk.rcv_tstamp)
            timer.mod_timer_in(sk.ka_timer, left if left > 0 else 0)
    elif optname == TCP_KEEPINTVL:
        if val < 1 or val > MAX_TCP_KEEPINTVL:
            return -EINVAL
        sk.keepalive_intvl = val
    elif optname == TCP_KEEPCNT:
        if val < 1 or val > MAX_TCP_KEEPCNT:
            return -EINVAL
        sk.keepalive_probes = val
    elif optname == TCP_SYNCNT:
        if val < 1 or val > MAX_TCP_KEEPCNT:
            return -EINVAL
        sk.syn_retries = val
    else:
        return -ENOPROTOOPT
    return 0


def tcp_get_info(sk, optlen):
    """TCP_INFO's head: state, then for a listener tcpi_unacked = accept queue
    length and tcpi_sacked = sk_max_ack_backlog (as Linux reports listeners)."""
    b = bytearray(104)
    b[0] = sk.sk_state
    b[2] = sk.retransmits
    b[3] = sk.probes_out
    b[4] = sk.backoff
    if sk.wscale_ok:
        b[6] = sk.snd_wscale | (sk.rcv_wscale << 4)
    if sk.sk_state == TCP_LISTEN:
        struct.pack_into("<II", b, 24, sk.sk_ack_backlog, sk.sk_max_ack_backlog)
    else:
        rto = tcp_output.tcp_rto(sk) << sk.backoff if sk.backoff < 10 else 120000
        struct.pack_into("<IIII", b, 8, rto * 1000, 0, sk.mss_cache, sk.rcv_mss)
        if sk.sk_dst is not None:
            mss = sk.mss_cache
            struct.pack_into("<I", b, 24, (sk.snd_max - sk.snd_una + mss - 1) // mss)  # unacked
        # tcpi_rtt, tcpi_rttvar (us), snd_ssthresh, snd_cwnd, advmss at Linux's offsets
        struct.pack_into("<IIII", b, 68, (sk.srtt8 >> 3) * 1000, (sk.rttvar4 >> 2) * 1000,
                         min(sk.snd_ssthresh, 0x7FFFFFFF), sk.snd_cwnd)
        struct.pack_into("<I", b, 84, sk.advmss)
    return bytes(b[:optlen])


def tcp_sock_set_quickack(sk, val):
    """TCP_QUICKACK (__tcp_sock_set_quickack): 0 enters pingpong mode (ACKs
    wait for data to ride on); non-zero leaves it, flushes a pending ACK, and
    uses up no credits: quick-ACKs follow only while credits remain."""
    if not val:
        sk.pingpong = 1
        return
    sk.pingpong = 0
    if (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT) and sk.ack_pending:
        tcp_output.tcp_send_ack(sk)
        if not val & 1:
            sk.pingpong = 1


def tcp_getsockopt(sk, level, optname, optlen):
    if level != SOL_TCP:
        return ip_getsockopt(sk, level, optname, optlen)
    if optlen < 0:
        return -EINVAL
    if optname == TCP_INFO:
        return tcp_get_info(sk, optlen)
    n = min(optlen, 4)
    if optname == TCP_NODELAY:
        val = 1 if sk.nonagle & TCP_NAGLE_OFF else 0
    elif optname == TCP_CORK:
        val = 1 if sk.nonagle & TCP_NAGLE_CORK else 0
    elif optname == TCP_MAXSEG:
        val = sk.mss_cache
        if sk.user_mss and (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_LISTEN):
            val = sk.user_mss
    elif optname == TCP_KEEPIDLE:
        val = keepalive_time_when(sk)
    elif optname == TCP_KEEPINTVL:
        val = sk.keepalive_intvl or sysctl.sysctl("net.ipv4.tcp_keepalive_intvl")
    elif optname == TCP_KEEPCNT:
        val = sk.keepalive_probes or sysctl.sysctl("net.ipv4.tcp_keepalive_probes")
    elif optname == TCP_SYNCNT:
        val = sk.syn_retries or 6
    elif optname == TCP_QUICKACK:
        val = 0 if sk.pingpong else 1
    else:
        return -ENOPROTOOPT
    return struct.pack("<i", val)[:n]


tcp_hashinfo = ih.inet_hashinfo()

tcp_prot = proto("TCP", tcp_sock, tcp_close, get_port=icsk.inet_csk_get_port,
                 hash=ih.inet_hash, unhash=ih.inet_unhash, init=tcp_init_sock,
                 setsockopt=tcp_setsockopt, getsockopt=tcp_getsockopt, shutdown=tcp_shutdown,
                 disconnect=tcp_disconnect, accept=icsk.inet_csk_accept,
                 keepalive=tcp_set_keepalive, h=tcp_hashinfo)
tcp_prot.sendmsg = tcp_sendmsg
tcp_prot.recvmsg = tcp_recvmsg
tcp_prot.ioctl = tcp_ioctl
tcp_prot.connect = None  # tcp_ipv4 fills it (tcp_v4_connect) with the unhash of ehash
