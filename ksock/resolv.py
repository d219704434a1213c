# The DNS stub resolver (glibc's resolv/res_send.c + getaddrinfo's A lookup),
# on ksock's own sockets: A queries over UDP from a random port with a random
# id to each server in turn (ATTEMPTS rounds, TIMEOUT_MS each), answers only
# from the server's address and port 53 with our id and question, TCP when the
# answer is truncated, CNAME chains followed, a small cache held to the TTLs.
# Errors are glibc's EAI_* codes (negative ints); nothing here raises on bad input.
import ksock.sys as ks
from ksock.compat import const, random32
from ksock.kernel import time as ktime
from ksock.net.ipv4.devinet import inet_aton
from ksock.wire import dns as W

EAI_NONAME = const(-2)
EAI_AGAIN = const(-3)
EAI_FAIL = const(-4)
EAI_NODATA = const(-5)
TIMEOUT_MS = 5000  # glibc's RES_TIMEOUT
ATTEMPTS = 2  # glibc's RES_DFLRETRY
CACHE_SIZE = 8
MAX_CNAME = 8
_servers = []  # configured with stack.dns_servers(); DHCP's are used when empty
_cache = {}  # name -> (addresses, expiry ms)
_buf = bytearray(512)
_qbuf = bytearray(272)


class stats:
    Queries = TcpQueries = Answers = Ignored = Timeouts = CacheHits = 0


def set_servers(servers):
    del _servers[:]
    for s in servers:
        _servers.append(inet_aton(s) if isinstance(s, str) else bytes(s))


def servers():
    if _servers:
        return list(_servers)
    try:
        from ksock.net.ipv4 import ipconfig
    except ImportError:
        return []
    return ipconfig.dns_servers()


def _ntoa(a):
    return "%d.%d.%d.%d" % (a[0], a[1], a[2], a[3])


def _udp(server, q, qlen, qid, qname, timeout_ms):
    """The server's answer as (n, parsed) or None (timeout). Datagrams from elsewhere,
    with another id or question, or malformed, are ignored as res_send does."""
    fd = ks.socket(2, 2 | 0o4000, 0)  # SOCK_NONBLOCK
    try:
        ks.setsockopt(fd, 1, 8, 4096)  # SO_RCVBUF: a few stray datagrams must not crowd out the answer
        for _ in range(8):  # a random source port (RFC 5452), as Linux's connect() would pick
            try:
                ks.bind(fd, ("0.0.0.0", 49152 + random32() % 16384))
                break
            except OSError:
                continue
        ks.sendto(fd, memoryview(q)[:qlen], 0, (_ntoa(server), 53))
        clk = ktime.clock
        start = clk.now_ms()
        while True:
            left = timeout_ms - clk.diff(clk.now_ms(), start)
            if left <= 0:
                stats.Timeouts += 1
                return None
            if not ks.poll([(fd, 1)], left):
                continue
            try:
                n, addr = ks.recvfrom_into(fd, _buf)
            except OSError:
                continue  # ICMP port unreachable and the like: keep waiting for the timeout
            p = W.parse(_buf, n) if addr == (_ntoa(server), 53) else None
            if p is None or not _matches(p, qid, qname):
                stats.Ignored += 1
                continue
            return n, p
    finally:
        ks.close(fd)


def _tcp(server, q, qlen, qid, qname, timeout_ms):
    """The same query over TCP (RFC 1035 4.2.2: a two-byte length first)."""
    fd = ks.socket(2, 1, 0)
    try:
        ks.setsockopt(fd, 1, 20, _timeval(timeout_ms))  # SO_RCVTIMEO
        ks.setsockopt(fd, 1, 21, _timeval(timeout_ms))  # SO_SNDTIMEO
        ks.connect(fd, (_ntoa(server), 53))
        ks.send(fd, bytes((qlen >> 8, qlen & 0xFF)) + bytes(q[:qlen]))
        hdr = _recv_all(fd, 2)
        ln = (hdr[0] << 8) | hdr[1]
        msg = _recv_all(fd, ln)
        p = W.parse(msg, len(msg))
        if p is None or not _matches(p, qid, qname):
            stats.Ignored += 1
            return None
        return len(msg), p
    except OSError:
        return None
    finally:
        ks.close(fd)


def _timeval(ms):
    import struct
    return struct.pack("<qq", ms // 1000, (ms % 1000) * 1000)


def _recv_all(fd, n):
    out = b""
    while len(out) < n:
        b = ks.recv(fd, n - len(out))
        if not b:
            raise OSError(104)
        out += b
    return out


def _matches(p, qid, qname):
    qid2, flags, q, _ = p
    return qid2 == qid and flags & W.QR and q is not None and q[0] == qname and q[1] == W.T_A and q[2] == W.C_IN


def res_query(name):
    """One A query for `name` across the servers: (rcode, rrs) or an EAI_* int."""
    wire = W.encode_name(name)
    if wire is None:
        return EAI_NONAME
    srv = servers()
    if not srv:
        return EAI_AGAIN
    qname = name.rstrip(".").lower()
    for _ in range(ATTEMPTS):
        for s in srv:
            qid = random32() & 0xFFFF
            qlen = W.emit_query(_qbuf, qid, wire)
            stats.Queries += 1
            r = _udp(s, _qbuf, qlen, qid, qname, TIMEOUT_MS)
            if r is not None and r[1][1] & W.TC:
                stats.TcpQueries += 1
                r = _tcp(s, _qbuf, qlen, qid, qname, TIMEOUT_MS)
            if r is None:
                continue
            rcode = r[1][1] & 0xF
            if rcode == W.SERVFAIL or rcode > W.NXDOMAIN:
                continue  # this server cannot answer: ask the next
            stats.Answers += 1
            return rcode, r[1][3]
    return EAI_AGAIN


def resolve(name):
    """A list of 4-byte IPv4 addresses for `name`, or an EAI_* int."""
    key = name.rstrip(".").lower()
    clk = ktime.clock
    now = clk.now_ms()
    e = _cache.get(key)
    if e is not None:
        if clk.diff(e[1], now) > 0:
            stats.CacheHits += 1
            return list(e[0])
        del _cache[key]
    cur = key
    ttl = 0x7FFFFFFF
    for _ in range(MAX_CNAME):
        r = res_query(cur)
        if isinstance(r, int):
            return r
        rcode, rrs = r
        if rcode == W.NXDOMAIN:
            return EAI_NONAME
        # follow the chain inside this answer: owner names must link up from `cur`
        for _ in range(MAX_CNAME):
            nxt = None
            for rn, t, rttl, data in rrs:
                if t == W.T_CNAME and rn == cur:
                    nxt = data
                    ttl = min(ttl, rttl)
                    break
            if nxt is None:
                break
            cur = nxt
        addrs = []
        for rn, t, rttl, data in rrs:
            if t == W.T_A and rn == cur and data not in addrs:
                addrs.append(data)
                ttl = min(ttl, rttl)
        if addrs:
            _cache_put(key, addrs, ttl)
            return addrs
        if cur != key and not any(rn == cur for rn, _, _, _ in rrs):
            continue  # the chain ends in a name this answer has nothing for: ask for it
        return EAI_NODATA  # the name exists, with no A record
    return EAI_FAIL  # a CNAME loop or a chain longer than MAX_CNAME


def _cache_put(key, addrs, ttl):
    if ttl <= 0 or CACHE_SIZE <= 0:
        return
    if len(_cache) >= CACHE_SIZE:
        clk = ktime.clock
        now = clk.now_ms()
        old = None
        for k, v in _cache.items():
            if old is None or clk.diff(v[1], _cache[old][1]) < 0 or clk.diff(v[1], now) <= 0:
                old = k
        del _cache[old]
    _cache[key] = (addrs, ktime.clock.add(ktime.clock.now_ms(), min(ttl, 0x1000000) * 1000))


def cache_flush():
    _cache.clear()
