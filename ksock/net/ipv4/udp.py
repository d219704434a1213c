# net/ipv4/udp.c: udp_prot's socket-layer half: the port table with UDP's reuse
# rules (udp_lib_lport_inuse), hash/unhash, close. udp_rcv/udp_sendmsg come later.
from ksock.compat import const
from ksock.uapi.errno import ENOPROTOOPT, EINVAL
from ksock.uapi.in_ import SOL_UDP
from ksock.net.core.sock import proto, sk_common_release
from ksock.net.ipv4 import inet_hashtables as ih
from ksock.net.ipv4.ip_sockglue import inet_sock, ip_setsockopt, ip_getsockopt


class udp_sock(inet_sock):
    sk_type = 2  # SOCK_DGRAM
    sk_protocol = 17


class udp_table:
    """Fixed chains of bound socks hashed by port (udp_hashfn), never resized."""
    __slots__ = ("hash",)

    def __init__(self):
        self.hash = [None] * ih.BHASH_SIZE


def udp_port_socks(table, port):
    chain = table.hash[ih.inet_bhashfn(port)]
    return [sk for sk in chain if sk.inet_num == port] if chain else []


udp_table_v4 = udp_table()


def udp_lib_lport_inuse(sk, socks):
    for sk2 in socks:
        if sk2 is sk:
            continue
        if sk2.sk_reuse and sk.sk_reuse:
            continue  # both SO_REUSEADDR: UDP shares freely
        if sk2.sk_bound_dev_if and sk.sk_bound_dev_if and sk2.sk_bound_dev_if != sk.sk_bound_dev_if:
            continue
        if not ih.inet_rcv_saddr_equal(sk, sk2, True):
            continue
        if sk2.sk_reuseport and sk.sk_reuseport and sk2.sk_uid == sk.sk_uid:
            continue  # a reuseport group
        return True
    return False


def udp_lib_get_port(sk, snum):
    """0 and sk hashed on `snum` (0: an ephemeral one), or 1 if in use."""
    table = sk.sk_prot.h
    if not snum:
        low, high = ih.inet_get_local_port_range()
        for port in ih.inet_port_candidates(low, high, False):
            lst = udp_port_socks(table, port)
            if not lst or not udp_lib_lport_inuse(sk, lst):
                snum = port
                break
        else:
            return 1
    else:
        lst = udp_port_socks(table, snum)
        if lst and udp_lib_lport_inuse(sk, lst):
            return 1
    sk.inet_num = snum
    ih._chain_add(table.hash, ih.inet_bhashfn(snum), sk)
    return 0


def udp_lib_hash(sk):
    return 0  # udp_lib_get_port already hashed it


def udp_lib_unhash(sk):
    if sk.inet_num:
        ih._chain_del(sk.sk_prot.h.hash, ih.inet_bhashfn(sk.inet_num), sk)
        sk.inet_num = 0
    return 0


def udp_lib_close(sk, timeout):
    sk_common_release(sk)


def udp_disconnect(sk, flags):
    sk.sk_state = 7  # TCP_CLOSE
    sk.inet_daddr = ih.INADDR_ANY
    sk.inet_dport = 0
    return 0


def udp_lib_lookup(daddr, dport):
    """The socket a datagram to (daddr, dport) goes to: exact address first."""
    best = None
    for sk in udp_port_socks(udp_table_v4, dport):
        if sk.inet_rcv_saddr == daddr:
            return sk
        if sk.inet_rcv_saddr == ih.INADDR_ANY and best is None:
            best = sk
    return best


def udp_setsockopt(sk, level, optname, optval, optlen):
    if level == SOL_UDP:
        return -EINVAL if optlen < 4 else -ENOPROTOOPT  # UDP_CORK & co. come later
    return ip_setsockopt(sk, level, optname, optval, optlen)


def udp_getsockopt(sk, level, optname, optlen):
    if level == SOL_UDP:
        return -EINVAL if optlen < 0 else -ENOPROTOOPT
    return ip_getsockopt(sk, level, optname, optlen)


udp_prot = proto("UDP", udp_sock, udp_lib_close, get_port=udp_lib_get_port, hash=udp_lib_hash,
                 unhash=udp_lib_unhash, setsockopt=udp_setsockopt, getsockopt=udp_getsockopt,
                 disconnect=udp_disconnect, h=udp_table_v4)


# ---- the data path: udp_sendmsg, udp_rcv, udp_recvmsg, udp_err ---------------------
from ksock.uapi.errno import (EMSGSIZE, EDESTADDRREQ, EAFNOSUPPORT, EACCES, ENOBUFS, EAGAIN,
                              ECONNREFUSED, EHOSTUNREACH, ENETUNREACH)
from ksock.kernel import softirq
from ksock.net.core import skbuff, sysctl
from ksock.net.core.sock import sock_flag, sock_error, SOCK_BROADCAST
from ksock.net.ipv4 import devinet, ip_output
from ksock.net.ipv4.proc import udp as MIB
from ksock.net.ipv4.protocol import net_protocol, inet_add_protocol
from ksock.wire import ipv4 as wip
from ksock.wire import udp as wudp

MSG_PEEK = const(0x2)
_CSUM_OK = const(1)  # skbuff.CHECKSUM_UNNECESSARY
_CSUM_PARTIAL = const(3)  # skbuff.CHECKSUM_PARTIAL
MSG_TRUNC = const(0x20)
MSG_DONTWAIT = const(0x40)
RCV_SHUTDOWN = const(1)
TCP_ESTABLISHED = const(1)
UDP_MAX_PAYLOAD = const(65507)
SKB_TRUESIZE = const(1856)  # what one queued datagram is charged against SO_RCVBUF
_ph = bytearray(20)  # a fake IPv4 header: csum_tcpudp_magic reads addresses at 12..20


_udp_memory = [0]  # bytes queued on every UDP socket (udp_memory_allocated, in bytes here)


def udp_memory_pages():
    return (_udp_memory[0] + 4095) >> 12


def udp_init_sock(sk):
    sk.sk_receive_queue = skbuff.Queue()
    sk.sk_rmem_alloc = 0
    return 0


def udp_destroy_sock(sk):
    q = getattr(sk, "sk_receive_queue", None)
    if q is not None:
        skbuff.skb_queue_purge(q)
        _udp_memory[0] -= sk.sk_rmem_alloc
        sk.sk_rmem_alloc = 0


def sockaddr_in(addr, port):
    return bytes((2, 0, port >> 8, port & 0xFF)) + addr + bytes(8)


def _udp_csum(buf, off, ulen, saddr, daddr):
    _ph[12:16] = saddr
    _ph[16:20] = daddr
    c = skbuff.csum_tcpudp_magic(_ph, 0, ulen, wip.IPPROTO_UDP, skbuff.csum_partial(buf, off, ulen))
    return c or 0xFFFF  # 0 means "no checksum" on the wire (RFC 768)


def udp_sendmsg(sk, msg, flags):
    n = 0
    for b in msg.msg_iov:
        n += len(b)
    if n > UDP_MAX_PAYLOAD:
        return -EMSGSIZE
    if msg.msg_name is not None:
        u = msg.msg_name
        if msg.msg_namelen < 16:
            return -EINVAL
        fam = u[0] | (u[1] << 8)
        if fam != 2 and fam != 0:
            return -EAFNOSUPPORT
        daddr = bytes(u[4:8])
        dport = (u[2] << 8) | u[3]
        if not dport:
            return -EINVAL
    else:
        if sk.sk_state != TCP_ESTABLISHED:
            return -EDESTADDRREQ
        daddr, dport = sk.inet_daddr, sk.inet_dport
    if not sk.inet_num and sk.sk_prot.get_port(sk, 0):
        return -11  # EAGAIN: no ephemeral port left (inet_autobind)
    if not sk.inet_sport:
        sk.inet_sport = sk.inet_num
    if daddr == devinet.INADDR_ANY:
        daddr = devinet.INADDR_LOOPBACK  # as Linux: sending to 0.0.0.0 reaches this host
    rt = ip_output.ip_route(daddr, _oif(sk))
    if isinstance(rt, int):
        return rt
    if devinet.inet_addr_type(daddr) == devinet.RTN_BROADCAST and not sock_flag(sk, SOCK_BROADCAST):
        return -EACCES
    if n + 28 > rt[0].mtu:
        return -EMSGSIZE  # no fragmentation here: as IP_PMTUDISC_DO
    err = sock_error(sk)
    if err:
        return err
    skb = ip_output.netdev.alloc_skb()
    if skb is None:
        MIB.SndbufErrors += 1
        return -ENOBUFS
    off = skbuff.skb_put(skb, n)
    pos = 0
    for b in msg.msg_iov:
        skbuff.skb_store_bits(skb, pos, b, 0, len(b))
        pos += len(b)
    off = skbuff.skb_push(skb, 8)
    skb.transport_header = off
    saddr = sk.inet_saddr if sk.inet_saddr != devinet.INADDR_ANY else rt[2]
    buf = skb.buf
    ulen = n + 8
    wudp.emit_into(buf, off, sk.inet_sport, dport, ulen)
    c = _udp_csum(buf, off, ulen, saddr, daddr)
    buf[off + 6] = c >> 8
    buf[off + 7] = c & 0xFF
    ttl = sk.uc_ttl if sk.uc_ttl >= 0 else 64
    err = ip_output.ip_send_skb(skb, rt, saddr, daddr, wip.IPPROTO_UDP, ttl, sk.tos, df=True)
    if err and err != -ENOBUFS:
        return err
    MIB.OutDatagrams += 1
    return n


def _oif(sk):
    """The device name of SO_BINDTODEVICE (sk_bound_dev_if), or None."""
    i = sk.sk_bound_dev_if
    if not i:
        return None
    for d in ip_output.netdev.netdevs():
        if d.ifindex == i:
            return d.name
    return None


def _match(sk, daddr, saddr, sport):
    """score of sk for a datagram (compute_score): -1 when it must not get it."""
    if sk.inet_rcv_saddr != devinet.INADDR_ANY and sk.inet_rcv_saddr != daddr:
        return -1
    score = 1 if sk.inet_rcv_saddr == devinet.INADDR_ANY else 2
    if sk.inet_dport:
        if sk.inet_dport != sport or sk.inet_daddr != saddr:
            return -1
        score += 2
    return score


def _queue_rcv(sk, skb):
    if sk.sk_rmem_alloc + SKB_TRUESIZE > sk.sk_rcvbuf:
        MIB.RcvbufErrors += 1
        MIB.InErrors += 1
        skbuff.kfree_skb(skb)
        return
    if (_udp_memory[0] + SKB_TRUESIZE + 4095) >> 12 > sysctl.sysctl("net.ipv4.udp_mem")[2]:
        MIB.MemErrors += 1  # __udp_enqueue_schedule_skb: over udp_mem's max (-ENOBUFS)
        MIB.InErrors += 1
        skbuff.kfree_skb(skb)
        return
    sk.sk_rmem_alloc += SKB_TRUESIZE
    _udp_memory[0] += SKB_TRUESIZE
    skb.owner = sk
    skbuff.skb_queue_tail(sk.sk_receive_queue, skb)
    sk.sk_data_ready(sk)


def udp_rcv(skb):
    buf = skb.buf
    off = skb.data
    if skb.len < 8:
        MIB.InErrors += 1
        skbuff.kfree_skb(skb)
        return
    ulen = (buf[off + 4] << 8) | buf[off + 5]
    if ulen > skb.len or ulen < 8:
        MIB.InErrors += 1  # short_packet
        skbuff.kfree_skb(skb)
        return
    if ulen < skb.len:
        skbuff.skb_trim(skb, ulen)
    nh = skb.network_header
    cs = skb.ip_summed  # udp4_csum_init: UNNECESSARY/PARTIAL are trusted, NONE is verified
    if (buf[off + 6] | buf[off + 7]) and cs != _CSUM_OK and cs != _CSUM_PARTIAL and skbuff.csum_tcpudp_magic(
            buf, nh, ulen, wip.IPPROTO_UDP, skbuff.csum_partial(buf, off, ulen)) != 0:
        MIB.InCsumErrors += 1
        MIB.InErrors += 1
        skbuff.kfree_skb(skb)
        return
    dport = (buf[off + 2] << 8) | buf[off + 3]
    sport = (buf[off] << 8) | buf[off + 1]
    saddr = wip.saddr(buf, nh)
    daddr = wip.daddr(buf, nh)
    socks = udp_port_socks(udp_table_v4, dport)
    if skb.cb[0] != 0:  # broadcast/multicast: every matching socket gets a copy
        targets = [sk for sk in socks if _match(sk, daddr, saddr, sport) >= 0]
        if not targets:
            MIB.IgnoredMulti += 1
            skbuff.kfree_skb(skb)
            return
        for sk in targets[1:]:
            c = ip_output.netdev.alloc_skb()
            if c is None:
                MIB.MemErrors += 1
                continue
            _clone_into(c, skb)
            _queue_rcv(sk, c)
        _queue_rcv(targets[0], skb)
        return
    best, score = None, -1
    for sk in socks:
        s = _match(sk, daddr, saddr, sport)
        if s > score:
            best, score = sk, s
    if best is None:
        MIB.NoPorts += 1
        from ksock.net.ipv4 import icmp
        icmp.icmp_send(skb, 3, 3)  # ICMP_PORT_UNREACH
        skbuff.kfree_skb(skb)
        return
    _queue_rcv(best, skb)


def _clone_into(c, skb):
    """A private copy for one more broadcast receiver (same offsets)."""
    skbuff.skb_push(c, skbuff.skb_headroom(c))
    skbuff.skb_trim(c, 0)
    start = skb.network_header
    skbuff.skb_put(c, skb.data + skb.len - start)
    skbuff.skb_store_bits(c, 0, skb.buf, start, skb.data + skb.len - start)
    skbuff.skb_pull(c, skb.data - start)
    c.network_header = 0
    c.cb[0] = skb.cb[0]


def udp_recvmsg(sk, msg, flags):
    q = sk.sk_receive_queue
    err = sock_error(sk)
    if err:
        return err
    if not skbuff.skb_queue_len(q):
        if sk.sk_shutdown & RCV_SHUTDOWN:
            return 0
        if flags & MSG_DONTWAIT:
            return -EAGAIN
        t = sk.sk_rcvtimeo
        ok = softirq.wait_event(lambda: skbuff.skb_queue_len(q) or sk.sk_err or sk.sk_shutdown & RCV_SHUTDOWN,
                                -1 if t >= 0x3FFFFFFF else t)
        err = sock_error(sk)
        if err:
            return err
        if not skbuff.skb_queue_len(q):
            return 0 if sk.sk_shutdown & RCV_SHUTDOWN else -EAGAIN
    skb = skbuff.skb_peek(q) if flags & MSG_PEEK else skbuff.skb_dequeue(q)
    n = skb.len - 8
    copied = 0
    for b in msg.msg_iov:
        k = min(len(b), n - copied)
        if k <= 0:
            break
        skbuff.skb_copy_bits(skb, 8 + copied, b, 0, k)
        copied += k
    if copied < n:
        msg.msg_flags |= MSG_TRUNC
    buf = skb.buf
    off = skb.data
    msg.msg_name = sockaddr_in(wip.saddr(buf, skb.network_header), (buf[off] << 8) | buf[off + 1])
    if not flags & MSG_PEEK:
        MIB.InDatagrams += 1
        sk.sk_rmem_alloc -= SKB_TRUESIZE
        _udp_memory[0] -= SKB_TRUESIZE
        skb.owner = None
        skbuff.kfree_skb(skb)
    return n if flags & MSG_TRUNC else copied


_ERRMAP = {0: (ENETUNREACH, 0), 1: (EHOSTUNREACH, 0), 2: (ENOPROTOOPT, 1), 3: (ECONNREFUSED, 1),
           4: (EMSGSIZE, 0)}


def udp_err(skb, type, code, inner):
    """An ICMP error about a datagram we sent (__udp4_lib_err)."""
    buf = skb.buf
    ihl = (buf[inner] & 0xF) * 4
    saddr = wip.saddr(buf, inner)
    daddr = wip.daddr(buf, inner)
    sport = (buf[inner + ihl] << 8) | buf[inner + ihl + 1]
    dport = (buf[inner + ihl + 2] << 8) | buf[inner + ihl + 3]
    sk = None
    for s in udp_port_socks(udp_table_v4, sport):
        if _match(s, saddr, daddr, dport) >= 0:
            sk = s
            break
    if sk is None:
        return
    if type == 3:
        err, hard = _ERRMAP.get(code, (EHOSTUNREACH, 0))
    else:
        err, hard = EHOSTUNREACH, 0
    if not sk.recverr and (not hard or sk.sk_state != TCP_ESTABLISHED):
        return  # unconnected sockets do not hear about it (no IP_RECVERR)
    sk.sk_err = err
    sk.sk_error_report(sk)


udp_protocol = net_protocol(udp_rcv, udp_err)


def proto_init():
    inet_add_protocol(udp_protocol, wip.IPPROTO_UDP)


udp_prot.init = udp_init_sock
udp_prot.destroy = udp_destroy_sock
udp_prot.sendmsg = udp_sendmsg
udp_prot.recvmsg = udp_recvmsg


def udp4_seq_show():
    """The lines of /proc/net/udp (header first), one per step, as seq_file
    calls udp4_seq_show per socket: a reader never holds the whole table."""
    yield "  sl  local_address rem_address   st tx_queue rx_queue uid inode"
    i = 0
    for chain in udp_table_v4.hash:
        for sk in chain or ():
            yield "%4d: %08X:%04X %08X:%04X %02X %08X:%08X %5d %d" % (
                i, devinet.addr_proc(sk.inet_rcv_saddr), sk.inet_num, devinet.addr_proc(sk.inet_daddr),
                sk.inet_dport, sk.sk_state, 0, sk.sk_rmem_alloc if hasattr(sk, "sk_rmem_alloc") else 0,
                sk.sk_uid, sk.sk_socket.i_ino if sk.sk_socket is not None else 0)
            i += 1


def proc_net_udp():
    return "\n".join(udp4_seq_show())
