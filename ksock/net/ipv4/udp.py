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
