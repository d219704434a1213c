# net/ipv4/tcp.c (+ include/net/tcp_states.h): TCP states with Linux's names,
# TCPF_* masks, the one tcp_set_state(), tcp_prot, and the IPPROTO_TCP options.
# The data path (tcp_input/tcp_output/tcp_timer) lands in its own files.
import struct
from ksock.compat import const
from ksock.uapi.errno import EINVAL, ENOPROTOOPT
from ksock.uapi.in_ import (SOL_TCP, TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE,
                            TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT, TCP_INFO)
from ksock.uapi.socket import RCV_SHUTDOWN
from ksock.net.core import sysctl
from ksock.net.core.sock import proto, sock_flag, SOCK_KEEPOPEN, SOCK_BINDPORT_LOCK, HZ
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


class tcp_sock(icsk.inet_connection_sock):
    sk_type = 1  # SOCK_STREAM
    sk_protocol = 6
    nonagle = 0
    user_mss = 0
    mss_cache = TCP_MSS_DEFAULT
    keepalive_time = 0  # 0: net.ipv4.tcp_keepalive_time (seconds)
    keepalive_intvl = 0
    keepalive_probes = 0
    syn_retries = 0


def tcp_set_state(sk, state):
    """Every TCP state change goes through here. Entering CLOSE unhashes and,
    unless the user bound the port, gives it back (RFC 9293 3.3.2: CLOSED is
    the fictional state of no TCB)."""
    old = sk.sk_state
    if state == TCP_CLOSE:
        if old != TCP_CLOSE or sk.icsk_bind_hash is not None:
            sk.sk_prot.unhash(sk)
            if sk.icsk_bind_hash is not None and not (sk.sk_userlocks & SOCK_BINDPORT_LOCK):
                ih.inet_put_port(sk)
    sk.sk_state = state


def tcp_init_sock(sk):
    """Per-TCP defaults: buffers from net.ipv4.tcp_{r,w}mem[1]."""
    sk.sk_sndbuf = sysctl.sysctl("net.ipv4.tcp_wmem")[1]
    sk.sk_rcvbuf = sysctl.sysctl("net.ipv4.tcp_rmem")[1]
    return 0


def tcp_disconnect(sk, flags):
    """Back to CLOSE (listen stop, abort); the socket can be reused after."""
    old = sk.sk_state
    if old != TCP_CLOSE:
        tcp_set_state(sk, TCP_CLOSE)
    if old == TCP_LISTEN:
        icsk.inet_csk_listen_stop(sk)
    sk.inet_dport = 0
    return 0


def tcp_close(sk, timeout):
    """close() of an unconnected or listening socket: no FIN to send yet."""
    sk.sk_shutdown = 3
    if sk.sk_state == TCP_LISTEN:
        tcp_set_state(sk, TCP_CLOSE)
        icsk.inet_csk_listen_stop(sk)
    tcp_set_state(sk, TCP_CLOSE)
    sk.sk_prot.unhash(sk)
    ih.inet_put_port(sk)  # tcp_v4_destroy_sock: the bucket goes even when locked
    sk.sk_socket = None


def tcp_shutdown(sk, how):
    pass  # FIN on SEND_SHUTDOWN arrives with tcp_output


def tcp_set_keepalive(sk, val):
    pass  # the keepalive timer arrives with tcp_timer


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
            sk.nonagle |= TCP_NAGLE_OFF
        else:
            sk.nonagle &= ~TCP_NAGLE_OFF
    elif optname == TCP_CORK:
        if val:
            sk.nonagle |= TCP_NAGLE_CORK
        else:
            sk.nonagle &= ~TCP_NAGLE_CORK
    elif optname == TCP_MAXSEG:
        if val and (val < TCP_MIN_MSS or val > MAX_TCP_WINDOW):
            return -EINVAL
        sk.user_mss = val
    elif optname == TCP_KEEPIDLE:
        if val < 1 or val > MAX_TCP_KEEPIDLE:
            return -EINVAL
        sk.keepalive_time = val
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
    b = bytearray(32)
    b[0] = sk.sk_state
    if sk.sk_state == TCP_LISTEN:
        struct.pack_into("<II", b, 24, sk.sk_ack_backlog, sk.sk_max_ack_backlog)
    else:
        struct.pack_into("<IIII", b, 8, 1000000, 0, sk.mss_cache, TCP_MSS_DEFAULT)
    return bytes(b[:optlen])


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
    else:
        return -ENOPROTOOPT
    return struct.pack("<i", val)[:n]


tcp_hashinfo = ih.inet_hashinfo()

tcp_prot = proto("TCP", tcp_sock, tcp_close, get_port=icsk.inet_csk_get_port,
                 hash=ih.inet_hash, unhash=ih.inet_unhash, init=tcp_init_sock,
                 setsockopt=tcp_setsockopt, getsockopt=tcp_getsockopt, shutdown=tcp_shutdown,
                 disconnect=tcp_disconnect, accept=icsk.inet_csk_accept,
                 keepalive=tcp_set_keepalive, h=tcp_hashinfo)
