# net/ipv4/inet_hashtables.c: the bind hash (port -> bucket of owners) and the
# listening hash of a connection-oriented protocol; ephemeral port selection
# from net.ipv4.ip_local_port_range.
from ksock.compat import PLATFORM
from ksock.net.core import sysctl
from ksock.net.core.sock import TCP_LISTEN, TCP_CLOSE
from ksock.net.ipv4.devinet import INADDR_ANY


# Fixed-size hash tables, as Linux sizes bhash/lhash at boot: a table never
# reallocates (a growing dict needs one large contiguous block, which a
# fragmented board heap may not have). A chain is a small list of socks; the
# port is compared on lookup.
BHASH_SIZE = 256 if PLATFORM == "linux" else 32
LHASH_SIZE = 32 if PLATFORM == "linux" else 8


class inet_hashinfo:
    """bhash: chains of bound socks by port; listening_hash: chains of listeners."""
    __slots__ = ("bhash", "listening_hash", "ehash")

    def __init__(self):
        self.bhash = [None] * BHASH_SIZE
        self.listening_hash = [None] * LHASH_SIZE
        self.ehash = {}  # (laddr, lport, raddr, rport) -> sk, filled by the data path


def inet_bhashfn(port):
    return port & (BHASH_SIZE - 1)


def inet_lhashfn(port):
    return port & (LHASH_SIZE - 1)


def inet_bind_owners(hinfo, port):
    """The socks bound to `port` (tb->owners)."""
    chain = hinfo.bhash[inet_bhashfn(port)]
    return [sk for sk in chain if sk.inet_num == port] if chain else []


def inet_listeners(hinfo, port):
    chain = hinfo.listening_hash[inet_lhashfn(port)]
    return [sk for sk in chain if sk.inet_num == port] if chain else []


def inet_rcv_saddr_equal(sk, sk2, match_wildcard=True):
    a, b = sk.inet_rcv_saddr, sk2.inet_rcv_saddr
    if a == b:
        return True
    return match_wildcard and (a == INADDR_ANY or b == INADDR_ANY)


def _chain_add(table, i, sk):
    chain = table[i]
    if chain is None:
        table[i] = [sk]
    else:
        chain.append(sk)


def _chain_del(table, i, sk):
    chain = table[i]
    if chain is not None and sk in chain:
        chain.remove(sk)
        if not chain:
            table[i] = None


def inet_bind_hash(sk, hinfo, port):
    sk.inet_num = port
    _chain_add(hinfo.bhash, inet_bhashfn(port), sk)
    sk.icsk_bind_hash = hinfo


def inet_put_port(sk):
    """Give the port back: leave the bind chain."""
    hinfo = sk.icsk_bind_hash
    if hinfo is None:
        return
    _chain_del(hinfo.bhash, inet_bhashfn(sk.inet_num), sk)
    sk.icsk_bind_hash = None
    sk.inet_num = 0
    if sk.icsk_bind_connect:
        sk.icsk_bind_connect = 0


def inet_hash(sk):
    """Listening sockets enter the listening hash (established ones: ehash, later)."""
    if sk.sk_state == TCP_LISTEN:
        _chain_add(sk.sk_prot.h.listening_hash, inet_lhashfn(sk.inet_num), sk)
    return 0


def inet_unhash(sk):
    _chain_del(sk.sk_prot.h.listening_hash, inet_lhashfn(sk.inet_num), sk)
    return 0


def inet_lookup_listener(hinfo, daddr, dport):
    """The listener for (daddr, dport): an exact address beats the wildcard."""
    best = None
    for sk in inet_listeners(hinfo, dport):
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
