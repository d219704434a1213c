# net/ipv4/inet_hashtables.c: the bind hash (port -> bucket of owners) and the
# listening hash of a connection-oriented protocol; ephemeral port selection
# from net.ipv4.ip_local_port_range.
from ksock.net.core import sysctl
from ksock.net.core.sock import TCP_LISTEN, TCP_CLOSE
from ksock.net.ipv4.devinet import INADDR_ANY


class inet_bind_bucket:
    """One bound port: the socks that own it (tb->owners)."""
    __slots__ = ("port", "owners")

    def __init__(self, port):
        self.port = port
        self.owners = []


class inet_hashinfo:
    """bhash: port -> inet_bind_bucket; listening_hash: port -> [listening socks]."""
    __slots__ = ("bhash", "listening_hash", "ehash")

    def __init__(self):
        self.bhash = {}
        self.listening_hash = {}
        self.ehash = {}  # (laddr, lport, raddr, rport) -> sk, filled by the data path


def inet_rcv_saddr_equal(sk, sk2, match_wildcard=True):
    a, b = sk.inet_rcv_saddr, sk2.inet_rcv_saddr
    if a == b:
        return True
    return match_wildcard and (a == INADDR_ANY or b == INADDR_ANY)


def inet_bind_bucket_create(hinfo, port):
    tb = inet_bind_bucket(port)
    hinfo.bhash[port] = tb
    return tb


def inet_bind_hash(sk, tb, port):
    sk.inet_num = port
    tb.owners.append(sk)
    sk.icsk_bind_hash = tb


def inet_put_port(sk):
    """Give the port back: leave the bucket, destroy it when empty."""
    tb = sk.icsk_bind_hash
    if tb is None:
        return
    tb.owners.remove(sk)
    sk.icsk_bind_hash = None
    sk.inet_num = 0
    if not tb.owners:
        hinfo = sk.sk_prot.h
        if hinfo.bhash.get(tb.port) is tb:
            del hinfo.bhash[tb.port]


def inet_hash(sk):
    """Listening sockets enter the listening hash (established ones: ehash, later)."""
    if sk.sk_state == TCP_CLOSE:
        return 0
    if sk.sk_state == TCP_LISTEN:
        hinfo = sk.sk_prot.h
        lst = hinfo.listening_hash.get(sk.inet_num)
        if lst is None:
            hinfo.listening_hash[sk.inet_num] = [sk]
        else:
            lst.append(sk)
    return 0


def inet_unhash(sk):
    hinfo = sk.sk_prot.h
    lst = hinfo.listening_hash.get(sk.inet_num)
    if lst is not None and sk in lst:
        lst.remove(sk)
        if not lst:
            del hinfo.listening_hash[sk.inet_num]
    return 0


def inet_lookup_listener(hinfo, daddr, dport):
    """The listener for (daddr, dport): an exact address beats the wildcard."""
    best = None
    for sk in hinfo.listening_hash.get(dport, ()):
        if sk.inet_rcv_saddr == daddr:
            return sk
        if sk.inet_rcv_saddr == INADDR_ANY and best is None:
            best = sk
    return best


def inet_get_local_port_range():
    return sysctl.sysctl("net.ipv4.ip_local_port_range")


class _prandom:
    """A small LCG: where each ephemeral-port scan starts (Linux: a hash + random)."""
    __slots__ = ("x",)

    def __init__(self, seed):
        self.x = seed

    def next(self):
        self.x = (self.x * 1103515245 + 12345) & 0x3FFFFFFF
        return self.x >> 8


prandom = _prandom(0x2545)


def inet_port_candidates(low, high, even_first=True):
    """Ports of [low, high] from a random start; bind() tries even ports first
    and connect() odd ones, as __inet_hash_connect/inet_csk_find_open_port do."""
    remaining = high - low + 1
    offset = prandom.next() % remaining if remaining else 0
    for parity in ((0, 1) if even_first else (1, 0)):
        for i in range(remaining):
            port = low + (offset + i) % remaining
            if (port & 1) == parity:
                yield port
