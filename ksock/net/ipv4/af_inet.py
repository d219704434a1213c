# net/ipv4/af_inet.c: PF_INET's create (walking inetsw), bind, listen,
# getname, shutdown, release, and the proto_ops tables. Also the skeletons of
# raw_prot (net/ipv4/raw.c) and ping_prot (net/ipv4/ping.c) until those land.
import struct
from ksock.compat import const
from ksock.uapi.errno import (EINVAL, ESOCKTNOSUPPORT, EPROTONOSUPPORT, EPERM, EAFNOSUPPORT,
                              EADDRNOTAVAIL, EACCES, EADDRINUSE, ENOTCONN, EEXIST, EAGAIN, EOPNOTSUPP,
                              EISCONN, EALREADY, EINPROGRESS, ECONNABORTED, ENOBUFS)
from ksock.uapi.socket import (AF_INET, AF_UNSPEC, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_MAX,
                               SS_UNCONNECTED, SS_CONNECTING, SS_DISCONNECTING, SS_CONNECTED,
                               RCV_SHUTDOWN, SHUTDOWN_MASK, SOCKADDR_IN_SIZE)
from ksock.uapi.in_ import IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_RAW, IPPROTO_MAX
from ksock.uapi.fcntl import O_NONBLOCK
from ksock.fs import fdtable
from ksock.net import socket as net_socket
from ksock.net.core import sysctl
from ksock.net.core.sock import (proto, sk_alloc, sock_init_data, sock_flag, sk_common_release,
                                 sock_graft, sock_error, MAX_SCHEDULE_TIMEOUT, SOCK_LINGER,
                                 SK_CAN_REUSE, SOCK_BINDADDR_LOCK, SOCK_BINDPORT_LOCK,
                                 TCP_CLOSE, TCP_LISTEN)
from ksock.net.ipv4 import devinet
from ksock.net.ipv4.devinet import INADDR_ANY, RTN_LOCAL, RTN_MULTICAST, RTN_BROADCAST
from ksock.net.ipv4.ip_sockglue import inet_sock, ip_setsockopt, ip_getsockopt
from ksock.net.ipv4.inet_connection_sock import inet_csk_listen_start
from ksock.net.ipv4.tcp import (tcp_prot, tcp_poll, TCPF_CLOSE, TCPF_LISTEN, TCPF_SYN_SENT,
                                TCPF_SYN_RECV, TCP_SYN_SENT)
from ksock.net.ipv4 import tcp_ipv4  # noqa: F401 (fills tcp_prot.connect/unhash)
from ksock.net.ipv4 import udp

INET_PROTOSW_REUSE = const(1)  # sockets start with SO_REUSEADDR set
INET_PROTOSW_PERMANENT = const(2)  # cannot be unregistered
INET_PROTOSW_ICSK = const(4)  # an inet_connection_sock

BIND_WITH_LOCK = const(1)
BIND_FORCE_ADDRESS_NO_PORT = const(2)
BIND_NO_CAP_NET_BIND_SERVICE = const(4)


# ---- raw and ping skeletons (their data paths come with raw.py / ping.py) ----------

class raw_sock(inet_sock):
    sk_type = SOCK_RAW


raw_v4_hashinfo = {}  # protocol -> [raw socks]


def raw_hash_sk(sk):
    lst = raw_v4_hashinfo.get(sk.inet_num)
    if lst is None:
        raw_v4_hashinfo[sk.inet_num] = [sk]
    else:
        lst.append(sk)
    return 0


def raw_unhash_sk(sk):
    lst = raw_v4_hashinfo.get(sk.inet_num)
    if lst is not None and sk in lst:
        lst.remove(sk)
        if not lst:
            del raw_v4_hashinfo[sk.inet_num]
    return 0


def raw_bind(sk, uaddr, addr_len):
    if sk.sk_state != TCP_CLOSE or addr_len < SOCKADDR_IN_SIZE:
        return -EINVAL
    addr = bytes(uaddr[4:8])
    chk = devinet.inet_addr_type(addr)
    if not inet_addr_valid_or_nonlocal(sk, addr, chk):
        return -EADDRNOTAVAIL
    sk.inet_rcv_saddr = sk.inet_saddr = addr
    if chk == RTN_MULTICAST or chk == RTN_BROADCAST:
        sk.inet_saddr = INADDR_ANY
    return 0


def raw_close(sk, timeout):
    sk_common_release(sk)


def raw_setsockopt(sk, level, optname, optval, optlen):
    return ip_setsockopt(sk, level, optname, optval, optlen)  # SOL_RAW (ICMP_FILTER) later


def raw_getsockopt(sk, level, optname, optlen):
    return ip_getsockopt(sk, level, optname, optlen)


raw_prot = proto("RAW", raw_sock, raw_close, hash=raw_hash_sk, unhash=raw_unhash_sk, bind=raw_bind,
                 setsockopt=raw_setsockopt, getsockopt=raw_getsockopt)


class ping_sock(inet_sock):
    sk_type = SOCK_DGRAM
    sk_protocol = 1


def ping_init_sock(sk):
    """ICMP datagram sockets only for groups in net.ipv4.ping_group_range."""
    lo, hi = sysctl.sysctl("net.ipv4.ping_group_range")
    return 0 if lo <= fdtable.current.gid <= hi else -EACCES


ping_prot = proto("PING", ping_sock, udp.udp_lib_close, get_port=udp.udp_lib_get_port,
                  hash=udp.udp_lib_hash, unhash=udp.udp_lib_unhash, init=ping_init_sock,
                  setsockopt=ip_setsockopt, getsockopt=ip_getsockopt, h=udp.udp_table())


# ---- inetsw: (type, protocol) -> (prot, ops, flags) ---------------------------------

class inet_protosw:
    __slots__ = ("type", "protocol", "prot", "ops", "flags")

    def __init__(self, type, protocol, prot, ops, flags):
        self.type = type
        self.protocol = protocol
        self.prot = prot
        self.ops = ops
        self.flags = flags


inetsw = [[] for _ in range(SOCK_MAX)]


def inet_register_protosw(p):
    """Add an entry; a permanent (type, protocol) cannot be overridden (-EEXIST).
    Wildcard (IPPROTO_IP) entries go last so exact protocols match first."""
    if p.type >= SOCK_MAX:
        return -EINVAL
    lst = inetsw[p.type]
    pos = len(lst)
    for i, a in enumerate(lst):
        if p.protocol == a.protocol and a.flags & INET_PROTOSW_PERMANENT:
            return -EEXIST
        if a.protocol == IPPROTO_IP and pos == len(lst):
            pos = i
    lst.insert(pos, p)
    return 0


def inet_unregister_protosw(p):
    if p.flags & INET_PROTOSW_PERMANENT:
        return -EPERM
    if p in inetsw[p.type]:
        inetsw[p.type].remove(p)
    return 0


def inet_create(sock, protocol, kern):
    if protocol < 0 or protocol >= IPPROTO_MAX:
        return -EINVAL
    sock.state = SS_UNCONNECTED
    answer = None
    err = -ESOCKTNOSUPPORT
    for a in inetsw[sock.type]:
        err = 0
        if protocol == a.protocol:
            if protocol != IPPROTO_IP:  # exact match
                answer = a
                break
        else:
            if protocol == IPPROTO_IP:  # wildcard request: the first entry's protocol
                protocol = a.protocol
                answer = a
                break
            if a.protocol == IPPROTO_IP:  # wildcard entry (raw) takes any protocol
                answer = a
                break
        err = -EPROTONOSUPPORT
    if answer is None:
        return err
    if sock.type == SOCK_RAW and not kern and not fdtable.capable(fdtable.CAP_NET_RAW):
        return -EPERM
    sock.ops = answer.ops
    prot = answer.prot
    try:
        sk = sk_alloc(AF_INET, prot)
    except MemoryError:
        return -ENOBUFS  # as inet_create when sk_alloc fails
    if answer.flags & INET_PROTOSW_REUSE:
        sk.sk_reuse = SK_CAN_REUSE
    if sock.type == SOCK_RAW:
        sk.inet_num = protocol
        if protocol == IPPROTO_RAW:
            sk.hdrincl = 1
    sock_init_data(sock, sk)
    if sk.sk_protocol != protocol:
        sk.sk_protocol = protocol
    if sk.inet_num:
        sk.inet_sport = sk.inet_num
        err = prot.hash(sk)
        if err:
            sk_common_release(sk)
            sock.sk = None
            return err
    if prot.init is not None:
        err = prot.init(sk)
        if err:
            sk_common_release(sk)
            sock.sk = None
            return err
    return 0


def inet_release(sock):
    sk = sock.sk
    if sk is not None:
        timeout = sk.sk_lingertime if sock_flag(sk, SOCK_LINGER) else 0
        sock.sk = None
        sk.sk_prot.close(sk, timeout)
    return 0


def inet_addr_valid_or_nonlocal(sk, addr, chk):
    return (sysctl.sysctl("net.ipv4.ip_nonlocal_bind") or sk.freebind or sk.transparent
            or addr == INADDR_ANY or chk == RTN_LOCAL or chk == RTN_MULTICAST or chk == RTN_BROADCAST)


def inet_bind(sock, uaddr, addr_len):
    sk = sock.sk
    if sk.sk_prot.bind is not None:  # RAW has its own
        return sk.sk_prot.bind(sk, uaddr, addr_len)
    if addr_len < SOCKADDR_IN_SIZE:
        return -EINVAL
    return __inet_bind(sk, uaddr, addr_len, BIND_WITH_LOCK)


def __inet_bind(sk, uaddr, addr_len, flags):
    family = uaddr[0] | (uaddr[1] << 8)
    addr = bytes(uaddr[4:8])
    if addr == INADDR_ANY:
        addr = INADDR_ANY  # share the constant: an idle bound socket stays small
    if family != AF_INET:
        # compatibility: AF_UNSPEC is taken as AF_INET only with INADDR_ANY
        if family != AF_UNSPEC or addr != INADDR_ANY:
            return -EAFNOSUPPORT
    chk = devinet.inet_addr_type(addr)
    if not inet_addr_valid_or_nonlocal(sk, addr, chk):
        return -EADDRNOTAVAIL
    snum = (uaddr[2] << 8) | uaddr[3]
    if (not (flags & BIND_NO_CAP_NET_BIND_SERVICE) and snum
            and snum < sysctl.sysctl("net.ipv4.ip_unprivileged_port_start")
            and not fdtable.capable(fdtable.CAP_NET_BIND_SERVICE)):
        return -EACCES
    if sk.sk_state != TCP_CLOSE or sk.inet_num:  # active socket or double bind
        return -EINVAL
    sk.inet_rcv_saddr = sk.inet_saddr = addr
    if chk == RTN_MULTICAST or chk == RTN_BROADCAST:
        sk.inet_saddr = INADDR_ANY  # send from the device's address
    if snum or not (sk.bind_address_no_port or flags & BIND_FORCE_ADDRESS_NO_PORT):
        if sk.sk_prot.get_port(sk, snum):
            sk.inet_saddr = sk.inet_rcv_saddr = INADDR_ANY
            return -EADDRINUSE
    if sk.inet_rcv_saddr != INADDR_ANY:
        sk.sk_userlocks |= SOCK_BINDADDR_LOCK
    if snum:
        sk.sk_userlocks |= SOCK_BINDPORT_LOCK
    sk.inet_sport = sk.inet_num
    if sk.inet_dport:
        sk.inet_daddr = INADDR_ANY
        sk.inet_dport = 0
    return 0


def inet_listen(sock, backlog):
    sk = sock.sk
    if sock.state != SS_UNCONNECTED or sock.type != SOCK_STREAM:
        return -EINVAL
    old_state = sk.sk_state
    if not ((1 << old_state) & (TCPF_CLOSE | TCPF_LISTEN)):
        return -EINVAL
    sk.sk_max_ack_backlog = backlog
    # already listening: only the backlog is adjusted
    if old_state != TCP_LISTEN:
        err = inet_csk_listen_start(sk)
        if err:
            return err
    return 0


def inet_getname(sock, peer):
    """The 16-byte sockaddr_in, or -ENOTCONN for a peer we do not have."""
    sk = sock.sk
    b = bytearray(SOCKADDR_IN_SIZE)
    b[0] = AF_INET
    if peer:
        if not sk.inet_dport or ((1 << sk.sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT) and peer == 1):
            return -ENOTCONN
        port, addr = sk.inet_dport, sk.inet_daddr
    else:
        addr = sk.inet_rcv_saddr
        if addr == INADDR_ANY:
            addr = sk.inet_saddr
        port = sk.inet_sport
    b[2] = port >> 8
    b[3] = port & 0xFF
    b[4:8] = addr
    return b


def inet_shutdown(sock, how):
    sk = sock.sk
    how += 1  # 0->1 (RCV), 1->2 (SEND), 2->3 (both)
    if (how & ~SHUTDOWN_MASK) or not how:
        return -EINVAL
    if sock.state == SS_CONNECTING:
        if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_CLOSE | (1 << 3)):
            sock.state = SS_DISCONNECTING
        else:
            sock.state = SS_CONNECTED
    err = 0
    st = sk.sk_state
    prot = sk.sk_prot
    if st == TCP_LISTEN or st == TCP_SYN_SENT:
        # a listener only stops on SHUT_RD; a connect in progress is aborted
        if st == TCP_SYN_SENT or how & RCV_SHUTDOWN:
            err = prot.disconnect(sk, O_NONBLOCK)
            sock.state = SS_DISCONNECTING if err else SS_UNCONNECTED
    else:
        if st == TCP_CLOSE:
            err = -ENOTCONN  # still marked, so poll() sees the hang-up
        sk.sk_shutdown |= how
        if prot.shutdown is not None:
            r = prot.shutdown(sk, how)
            if r and not err:
                err = r
    sk.sk_state_change(sk)
    return err


def inet_autobind(sk):
    if not sk.inet_num:
        if sk.sk_prot.get_port(sk, 0):
            return -EAGAIN
        sk.inet_sport = sk.inet_num
    return 0


def ip4_datagram_connect(sk, uaddr, addr_len):
    from ksock.net.ipv4 import ip_output
    from ksock.net.core.sock import sock_flag, SOCK_BROADCAST
    if addr_len < SOCKADDR_IN_SIZE:
        return -EINVAL
    if uaddr[0] | (uaddr[1] << 8) != AF_INET:
        return -EAFNOSUPPORT
    daddr = bytes(uaddr[4:8])
    if daddr == INADDR_ANY:
        daddr = devinet.INADDR_LOOPBACK
    rt = ip_output.ip_route(daddr)
    if isinstance(rt, int):
        return rt
    if devinet.inet_addr_type(daddr) == RTN_BROADCAST and not sock_flag(sk, SOCK_BROADCAST):
        return -EACCES
    if sk.inet_saddr == INADDR_ANY:
        sk.inet_saddr = rt[2]
    if sk.inet_rcv_saddr == INADDR_ANY:
        sk.inet_rcv_saddr = rt[2]
    sk.inet_daddr = daddr
    sk.inet_dport = (uaddr[2] << 8) | uaddr[3]
    sk.sk_state = 1  # TCP_ESTABLISHED: "connected" for a datagram socket
    return 0


def inet_dgram_connect(sock, uaddr, addr_len, flags):
    sk = sock.sk
    if addr_len < 2:
        return -EINVAL
    if uaddr[0] | (uaddr[1] << 8) == AF_UNSPEC:
        return sk.sk_prot.disconnect(sk, flags)
    err = inet_autobind(sk)
    if err:
        return err
    return ip4_datagram_connect(sk, uaddr, addr_len)


def inet_wait_for_connect(sk, timeo):
    """Run the stack until the handshake ends; False if `timeo` ran out first."""
    from ksock.kernel import softirq
    return softirq.wait_event(lambda: not (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV),
                              -1 if timeo >= MAX_SCHEDULE_TIMEOUT else timeo)


def inet_stream_connect(sock, uaddr, addr_len, flags):
    """__inet_stream_connect(): EINPROGRESS/EALREADY/EISCONN as Linux; a blocking
    connect waits SO_SNDTIMEO and answers EINPROGRESS when that runs out."""
    sk = sock.sk
    if addr_len < 2:
        return -EINVAL
    if uaddr[0] | (uaddr[1] << 8) == AF_UNSPEC:
        err = sk.sk_prot.disconnect(sk, flags)
        sock.state = SS_DISCONNECTING if err else SS_UNCONNECTED
        return err
    st = sock.state
    if st == SS_CONNECTED:
        return -EISCONN
    elif st == SS_CONNECTING:
        err = -EALREADY
    elif st == SS_UNCONNECTED:
        if sk.sk_state != TCP_CLOSE:
            return -EISCONN
        err = sk.sk_prot.connect(sk, uaddr, addr_len)
        if err < 0:
            return err
        sock.state = SS_CONNECTING
        err = -EINPROGRESS
    else:
        return -EINVAL
    timeo = 0 if flags & O_NONBLOCK else sk.sk_sndtimeo
    if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
        if not timeo or not inet_wait_for_connect(sk, timeo):
            return err
    if sk.sk_state == TCP_CLOSE:  # reset, timed out or unreachable
        err = sock_error(sk) or -ECONNABORTED
        sock.state = SS_UNCONNECTED
        if sk.sk_prot.disconnect(sk, flags):
            sock.state = SS_DISCONNECTING
        return err
    sock.state = SS_CONNECTED
    return 0


def inet_accept(sock, newsock, flags):
    """The listener's next child grafted onto newsock (SS_CONNECTED)."""
    sk1 = sock.sk
    sk2, err = sk1.sk_prot.accept(sk1, flags)
    if sk2 is None:
        return err
    sock_graft(sk2, newsock)
    newsock.state = SS_CONNECTED
    return 0


def inet_sendmsg(sock, msg, flags):
    sk = sock.sk
    f = getattr(sk.sk_prot, "sendmsg", None)
    if f is None:
        return -EOPNOTSUPP
    return f(sk, msg, flags)


def inet_recvmsg(sock, msg, flags):
    sk = sock.sk
    f = getattr(sk.sk_prot, "recvmsg", None)
    if f is None:
        return -EOPNOTSUPP
    return f(sk, msg, flags)


def inet_ioctl(sock, cmd, arg):
    """SIOCINQ/SIOCOUTQ and friends go to the protocol (tcp_ioctl)."""
    sk = sock.sk
    f = getattr(sk.sk_prot, "ioctl", None)
    if f is None:
        return -515  # ENOIOCTLCMD: the file layer answers the generic ones
    return f(sk, cmd)


def sock_common_setsockopt(sock, level, optname, optval, optlen):
    sk = sock.sk
    return sk.sk_prot.setsockopt(sk, level, optname, optval, optlen)


def sock_common_getsockopt(sock, level, optname, optlen):
    sk = sock.sk
    return sk.sk_prot.getsockopt(sk, level, optname, optlen)


_P = net_socket.proto_ops
inet_stream_ops = _P(AF_INET, release=inet_release, bind=inet_bind, getname=inet_getname,
                     listen=inet_listen, shutdown=inet_shutdown, connect=inet_stream_connect,
                     accept=inet_accept, sendmsg=inet_sendmsg, recvmsg=inet_recvmsg,
                     poll=tcp_poll, ioctl=inet_ioctl,
                     setsockopt=sock_common_setsockopt, getsockopt=sock_common_getsockopt)
inet_dgram_ops = _P(AF_INET, release=inet_release, bind=inet_bind, getname=inet_getname,
                    poll=__import__("ksock.net.core.datagram").net.core.datagram.udp_poll,
                    shutdown=inet_shutdown, connect=inet_dgram_connect, sendmsg=inet_sendmsg,
                    recvmsg=inet_recvmsg, setsockopt=sock_common_setsockopt,
                    getsockopt=sock_common_getsockopt)
inet_sockraw_ops = _P(AF_INET, release=inet_release, bind=inet_bind, getname=inet_getname,
                      poll=__import__("ksock.net.core.datagram").net.core.datagram.datagram_poll,
                      shutdown=inet_shutdown, setsockopt=sock_common_setsockopt,
                      getsockopt=sock_common_getsockopt)

inet_family_ops = net_socket.net_proto_family(AF_INET, inet_create)

inetsw_array = (
    inet_protosw(SOCK_STREAM, IPPROTO_TCP, tcp_prot, inet_stream_ops,
                 INET_PROTOSW_PERMANENT | INET_PROTOSW_ICSK),
    inet_protosw(SOCK_DGRAM, IPPROTO_UDP, udp.udp_prot, inet_dgram_ops, INET_PROTOSW_PERMANENT),
    inet_protosw(SOCK_DGRAM, IPPROTO_ICMP, ping_prot, inet_dgram_ops, INET_PROTOSW_REUSE),
    # Linux's raw entry is the IPPROTO_IP wildcard: SOCK_RAW with any protocol
    # (ICMP included), never with 0 itself.
    inet_protosw(SOCK_RAW, IPPROTO_IP, raw_prot, inet_sockraw_ops, INET_PROTOSW_REUSE),
)


def inet_init():
    """Idempotent: register PF_INET and the permanent inetsw entries."""
    if net_socket.net_families[AF_INET] is inet_family_ops:
        return 0
    err = net_socket.sock_register(inet_family_ops)
    if err:
        return err
    for p in inetsw_array:
        inet_register_protosw(p)
    return 0


inet_init()
