# In-process frame fuzzer (issue 19): a seeded generator/mutator that builds
# Ethernet/ARP/IPv4/ICMP/UDP/TCP frames (to open ports, closed ports and an
# established connection's 4-tuple), mutates them (byte flips, truncation at a
# layer boundary, bad IHL/length/fragment bits/options, TCP data offsets 0-15,
# odd flags, bad checksums, VLAN tags) and feeds them to netif_receive_skb in
# pool skbs, while a poll-free echo app serves UDP/TCP port 7. Reproducible:
# (seed, frame index) names every frame. Test aid only: the stack never imports it.
import gc
import struct
from ksock.net.core import dev as netdev, skbuff
from ksock.net.ipv4 import proc
from ksock.kernel import softirq

KMAC = b"\x02\x00\x00\x00\xf0\x02"
PMAC = b"\x02\x00\x00\x00\xf0\x01"
KIP = b"\x0a\x63\x00\x02"  # 10.99.0.2, ksock
PIP = b"\x0a\x63\x00\x01"  # 10.99.0.1, the fuzzing peer
BCAST = b"\xff\xff\xff\xff\xff\xff"
EPORT = 7  # the echo app's UDP and TCP port
CPORT = 40007  # the peer's port of the established connection
APORT = 40008  # the peer's port of the after-run TCP echo check
BATCH = 64  # frames between softirq passes / app rounds
MAXCONN = 4  # the echo app's client limit (fuzzed SYNs open connections nobody closes)


class Rand:
    """xorshift32 into a byte table (few big ints on 32-bit ports): r(n) in [0, n)."""

    def __init__(self, seed):
        self.x = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1
        self.t = bytearray(1024)
        self.i = 1024

    def _fill(self):
        x = self.x
        t = self.t
        for i in range(0, 1024, 4):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            t[i] = x & 0xFF
            t[i + 1] = (x >> 8) & 0xFF
            t[i + 2] = (x >> 16) & 0xFF
            t[i + 3] = x >> 24
        self.x = x
        self.i = 0

    def b(self):
        if self.i >= 1024:
            self._fill()
        v = self.t[self.i]
        self.i += 1
        return v

    def r(self, n):
        if n <= 256:
            return self.b() % n
        return ((self.b() << 8) | self.b()) % n


class FuzzDev(netdev.net_device):
    """The fuzzing peer's NIC: counts what ksock sends and remembers the last TCP
    segment it sent on the established connection (seq/ack for the templates)."""

    def __init__(self, name="fz0"):
        super().__init__(name, KMAC)
        self.tx = 0
        self.echo_replies = 0
        self.est_seq = 0  # ksock's next seq on the connection, as last seen
        self.est_ack = 0
        self.port = CPORT  # the peer port whose segments set est_seq/est_ack
        self.rx_data = b""  # payload ksock sent to APORT

    def ndo_start_xmit(self, skb):
        b = skb.buf
        o = skb.data
        self.tx += 1
        if skb.len >= 54 and b[o + 12] == 8 and b[o + 13] == 0:
            ip = o + 14
            th = ip + (b[ip] & 15) * 4
            if b[ip + 9] == 6 and th + 20 <= o + skb.len and (b[th + 2] << 8 | b[th + 3]) == self.port:
                s, a = struct.unpack_from(">II", b, th + 4)
                hl = (b[th + 12] >> 4) << 2
                ln = ((b[ip + 2] << 8) | b[ip + 3]) - (th - ip) - hl
                self.est_seq = (s + ln + (1 if b[th + 13] & 3 else 0)) & 0xFFFFFFFF
                self.est_ack = a
                if self.port == APORT and ln > 0:
                    self.rx_data += bytes(b[th + hl:th + hl + ln])
            elif b[ip + 9] == 1 and b[th] == 0 and b[ip + 16:ip + 20] == PIP:
                self.echo_replies += 1
        skbuff.kfree_skb(skb)
        return 0


def _csum_fix(b, n, valid=True):
    """Recompute the IPv4 header and ICMP/UDP/TCP checksums of frame b[:n] in place
    (when its lengths are coherent enough to say where they are)."""
    o = 14
    if b[12] == 0x81 and b[13] == 0:
        o = 18
    if n < o + 20 or b[o - 2] != 8 or b[o - 1] != 0:
        return
    ihl = (b[o] & 15) * 4
    if ihl < 20 or o + ihl > n:
        return
    b[o + 10] = b[o + 11] = 0
    c = skbuff.ip_fast_csum(b, o, ihl >> 2)
    b[o + 10] = c >> 8
    b[o + 11] = c & 0xFF
    tot = (b[o + 2] << 8) | b[o + 3]
    ln = tot - ihl
    th = o + ihl
    if ln <= 0 or o + tot > n:
        return
    p = b[o + 9]
    if p == 1:
        at = th + 2
    elif p == 6:
        at = th + 16
    elif p == 17:
        at = th + 6
    else:
        return
    if at + 2 > th + ln:
        return
    b[at] = b[at + 1] = 0
    if p == 1:
        c = skbuff.csum_fold(skbuff.csum_partial(b, th, ln))
    else:
        c = skbuff.csum_tcpudp_magic(b, o, ln, p, skbuff.csum_partial(b, th, ln))
        if p == 17 and c == 0:
            c = 0xFFFF
    b[at] = c >> 8
    b[at + 1] = c & 0xFF


def _eth(b, dst, proto):
    b[0:6] = dst
    b[6:12] = PMAC
    b[12] = proto >> 8
    b[13] = proto & 0xFF


def _ip(b, proto, ln, src=PIP, dst=KIP, opts=b""):
    ihl = 20 + len(opts)
    struct.pack_into(">BBHHHBB", b, 14, 0x40 | (ihl >> 2), 0, ihl + ln, 0x1234, 0x4000, 64, proto)
    b[26:30] = src
    b[30:34] = dst
    b[34:34 + len(opts)] = opts
    return 14 + ihl


def _tcp(b, o, sport, dport, seq, ack, flags, data=b"", opts=b""):
    hl = 20 + len(opts)
    struct.pack_into(">HHIIBBHHH", b, o, sport, dport, seq, ack, (hl >> 2) << 4, flags, 65535, 0, 0)
    b[o + 20:o + hl] = opts
    b[o + hl:o + hl + len(data)] = data
    return o + hl + len(data)


def templates(est):
    """The valid frames a run starts from: [(bytearray, length)]. `est` is
    (ksock_seq, our_seq) of the established connection, or None."""
    out = []

    def add(n, b):
        _csum_fix(b, n)
        out.append((b, n))

    b = bytearray(64)  # ARP request for our address
    _eth(b, BCAST, 0x0806)
    struct.pack_into(">HHBBH", b, 14, 1, 0x0800, 6, 4, 1)
    b[22:28] = PMAC
    b[28:32] = PIP
    b[38:42] = KIP
    add(60, b)
    b = bytearray(b)  # ARP reply
    b[0:6] = KMAC
    b[21] = 2
    b[32:38] = KMAC
    add(60, b)
    b = bytearray(98)  # ICMP echo request
    _eth(b, KMAC, 0x0800)
    o = _ip(b, 1, 64)
    struct.pack_into(">BBHHH", b, o, 8, 0, 0, 0x77, 1)
    add(98, b)
    for dport, dst, mac in ((EPORT, KIP, KMAC), (9, KIP, KMAC), (EPORT, b"\x0a\x63\x00\xff", BCAST)):
        b = bytearray(60)  # UDP to the echo port, a closed port, the subnet broadcast
        _eth(b, mac, 0x0800)
        o = _ip(b, 17, 8 + 18, dst=dst)
        struct.pack_into(">HHHH", b, o, 5353, dport, 26, 0)
        b[o + 8:o + 26] = b"fuzz-udp-datagram!"
        add(60, b)
    mss = b"\x02\x04\x05\xb4\x01\x03\x03\x07\x04\x02\x01\x01"
    for dport, flags, opts in ((EPORT, 2, mss), (9, 2, b""), (EPORT, 0x10, b""), (EPORT, 0x29, b"")):
        b = bytearray(80)  # SYN to the listener / a closed port, a stray ACK, XMAS-ish
        _eth(b, KMAC, 0x0800)
        o = _ip(b, 6, 20 + len(opts))
        n = _tcp(b, o, 33000, dport, 0x1000, 0, flags, opts=opts)
        add(n, b)
    if est:
        kseq, pseq = est
        for flags, data in ((0x18, b"fuzz-tcp-data\n"), (0x10, b""), (0x11, b""), (0x04, b""), (0x02, b"")):
            b = bytearray(80)  # to the established 4-tuple: data, ACK, FIN, RST, SYN
            _eth(b, KMAC, 0x0800)
            o = _ip(b, 6, 20 + len(data))
            n = _tcp(b, o, CPORT, EPORT, pseq, kseq, flags, data)
            add(n, b)
    b = bytearray(70)  # IP with options (record route, NOP, EOL) carrying ICMP
    _eth(b, KMAC, 0x0800)
    o = _ip(b, 1, 8, opts=b"\x07\x07\x04\x00\x00\x00\x00\x01")
    struct.pack_into(">BBHHH", b, o, 8, 0, 0, 0x78, 2)
    add(o + 8, b)
    b = bytearray(60)  # unknown IP protocol
    _eth(b, KMAC, 0x0800)
    _ip(b, 200, 20)
    add(54, b)
    return out


def mutate(rnd, b, n, cap):
    """Mutate frame b[:n] in place; returns (new length, ip_summed)."""
    m = rnd.r(12)
    ihl = (b[14] & 15) * 4 if b[12] == 8 and b[13] == 0 else 0
    if m == 1:  # byte flips
        for _ in range(1 + rnd.r(4)):
            b[rnd.r(n)] ^= 1 << rnd.r(8)
    elif m == 2:  # random bytes
        for _ in range(1 + rnd.r(3)):
            b[rnd.r(n)] = rnd.b()
    elif m == 3:  # truncation at a layer boundary (or one byte either side)
        cut = (0, 6, 13, 14, 14 + 8, 14 + 20, 14 + ihl, 14 + ihl + 8, 14 + ihl + 20, n - 1)[rnd.r(10)]
        n = max(0, min(n, cut + rnd.r(3) - 1))
    elif m == 4 and ihl:  # bad IHL
        b[14] = (b[14] & 0xF0) | rnd.r(16)
    elif m == 5 and ihl:  # bad total length
        v = (0, 1, 19, 20, n - 14, n - 13, n, 0xFFFF, rnd.r(65536))[rnd.r(9)]
        b[16] = (v >> 8) & 0xFF
        b[17] = v & 0xFF
    elif m == 6 and ihl:  # fragment bits: evil, DF, MF, offsets
        b[20] = rnd.b()
        b[21] = rnd.b()
    elif m == 7 and ihl and b[23] == 6 and n >= 14 + ihl + 14:  # TCP data offset 0-15
        b[14 + ihl + 12] = (rnd.r(16) << 4) | (b[14 + ihl + 12] & 15)
    elif m == 8 and ihl and b[23] == 6 and n >= 14 + ihl + 14:  # odd flag sets
        b[14 + ihl + 13] = rnd.b()
    elif m == 9 and ihl and n + 8 <= cap:  # IP options garbage (IHL grows)
        o = 14 + ihl
        k = 4 * (1 + rnd.r(2))
        b[o + k:n + k] = b[o:n]
        for i in range(k):
            b[o + i] = (0, 1, 7, 68, 130, 0xFF, rnd.b())[rnd.r(7)]
        b[14] = 0x40 | ((ihl + k) >> 2)
        tot = ((b[16] << 8) | b[17]) + k
        b[16] = (tot >> 8) & 0xFF
        b[17] = tot & 0xFF
        n += k
    elif m == 10 and n + 4 <= cap:  # a VLAN tag (802.1Q) in front of the type
        b[16:n + 4] = b[12:n]
        b[12] = 0x81
        b[13] = 0
        b[14] = rnd.r(16)
        b[15] = rnd.b()
        n += 4
    elif m == 11 and n > 34:  # a bad checksum somewhere in the headers
        b[24 + rnd.r(n - 24 if n < 60 else 36)] ^= 0xFF
        return n, skbuff.CHECKSUM_NONE
    c = rnd.r(4)
    if m and c < 2:
        _csum_fix(b, n)  # valid checksums over the mutation: reach the upper layers
    return n, skbuff.CHECKSUM_UNNECESSARY if c == 3 else skbuff.CHECKSUM_NONE


class EchoApp:
    """UDP + TCP echo on port 7 over ksock's drop-in sockets, non-blocking."""

    def __init__(self):
        import ksock.socket as socket
        self.S = socket
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.bind(("0.0.0.0", EPORT))
        self.u.setblocking(False)
        self.l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.l.bind(("0.0.0.0", EPORT))
        self.l.listen(8)
        self.l.setblocking(False)
        self.conns = []
        self.oom = 0
        self.buf = bytearray(1600)

    def round(self):
        import ksock.sys as ks
        while True:
            try:  # recvfrom_into a preallocated buffer: no 1.6 KB block per datagram
                n, a = ks.recvfrom_into(self.u.fileno(), self.buf)
            except OSError:
                break
            except MemoryError:  # the app's own small objects on a full board heap: not the stack's
                self.oom += 1
                break
            try:
                ks.sendto(self.u.fileno(), memoryview(self.buf)[:n], 0, a)
            except OSError:
                pass
        while True:
            try:
                c, _ = self.l.accept()
            except OSError:
                break
            c.setblocking(False)
            self.conns.append(c)
            if len(self.conns) > MAXCONN:  # a server with a client limit drops its oldest
                self.conns.pop(0).close()
        for c in list(self.conns):
            try:
                n = c.recv_into(self.buf)
            except OSError as e:
                if e.args[0] == 11:
                    continue
                n = 0
            except MemoryError:
                self.oom += 1
                continue
            if n == 0:
                self.conns.remove(c)
                c.close()
                continue
            try:
                c.send(memoryview(self.buf)[:n])
            except OSError:
                pass
            except MemoryError:
                self.oom += 1

    def close(self):
        for c in self.conns:
            c.close()
        self.conns = []
        self.u.close()
        self.l.close()


_w = {}  # the fuzz world: dev, app, rnd, frame skb scratch


def world():
    """The stack with a FuzzDev at 10.99.0.2/24 and the echo app (once)."""
    if _w:
        return _w
    from ksock import stack
    stack.init()
    d = stack.add_dev(FuzzDev())
    stack.ip_addr_add("fz0", "10.99.0.2/24")
    stack.ip_neigh_add("10.99.0.1", "02:00:00:00:f0:01", "fz0")
    _w["dev"] = d
    _w["app"] = EchoApp()
    _w["last"] = bytearray(netdev.SKB_SIZE)
    _w["pseq"] = 0x50000000
    _w["est"] = None
    return _w


def inject(b, n, summed=0):
    """Feed frame b[:n] to the receive path in a pool skb; False when the pool is empty."""
    skb = netdev.netdev_alloc_skb()
    if skb is None:
        return False
    skbuff.skb_put(skb, n)
    skbuff.skb_store_bits(skb, 0, b, 0, n)
    skb.ip_summed = summed
    netdev.netif_receive_skb(skb, _w["dev"])
    softirq.run_post_rx()
    return True


def _settle(ms):
    softirq.run_for(ms)
    _w["app"].round()


def establish(port=CPORT):
    """A connection from the peer's `port` to the echo port (three-way handshake
    driven by frames); returns (ksock_seq, our_seq) or None."""
    w = _w
    d = w["dev"]
    d.port = port
    w["pseq"] = (w["pseq"] + 0x10000) & 0xFFFFFFFF
    b = bytearray(80)
    _eth(b, KMAC, 0x0800)
    o = _ip(b, 6, 20)
    n = _tcp(b, o, port, EPORT, w["pseq"], 0, 2)
    _csum_fix(b, n)
    d.est_seq = 0
    inject(b, n)
    _settle(0)
    if not d.est_seq:
        return None
    w["pseq"] = (w["pseq"] + 1) & 0xFFFFFFFF
    _ip(b, 6, 20)
    n = _tcp(b, o, port, EPORT, w["pseq"], d.est_seq, 0x10)
    _csum_fix(b, n)
    inject(b, n)
    _settle(0)
    return d.est_seq, w["pseq"]


def _est_alive():
    from ksock.net import socket as S
    from ksock.fs import fdtable
    for c in _w["app"].conns:
        sk = S.sock_from_file(fdtable.fdget(c.fileno())).sk
        if sk is not None and sk.inet_dport == CPORT and sk.sk_state == 1:
            return True
    return False


def counters():
    """Every receive-side counter the accounting uses: {"dev": {...}, MIB: {...}}."""
    d = proc.snmp()
    dv = {}
    for x in netdev.netdevs():
        s = x.stats
        for k in ("rx_packets", "rx_length_errors", "rx_nohandler", "rx_dropped", "rx_otherhost_dropped"):
            dv[k] = dv.get(k, 0) + getattr(s, k, 0)
    d["dev"] = dv
    from ksock.net.ipv4 import route  # martians: counted in /proc/net/stat/rt_cache, as Linux
    rs = route.rt_cache_stat
    d["Ip"]["InMartians"] = rs.in_martian_src + rs.in_martian_dst
    q = 0  # datagrams queued on the echo socket, not yet read (InDatagrams counts at recvmsg)
    if _w:
        from ksock.net import socket as S
        from ksock.fs import fdtable
        f = fdtable.fdget(_w["app"].u.fileno())
        rq = getattr(S.sock_from_file(f).sk, "sk_receive_queue", None) if f is not None else None
        q = skbuff.skb_queue_len(rq) if rq is not None else 0
    d["Udp"]["queued"] = q
    return d


def unaccounted(a, b):
    """Frames that entered a layer between counter snapshots a and b and left it
    neither up nor through a counted drop, per layer: {layer: n}; all 0 when
    every drop is counted. Each line is one conservation law (docs/fuzz.md)."""
    def g(m, k):
        return b[m].get(k, 0) - a[m].get(k, 0)
    ip = g("Ip", "InReceives")
    arp = g("Arp", "InRequests") + g("Arp", "InReplies") + g("Arp", "InErrors")
    dev = g("dev", "rx_packets") - g("dev", "rx_length_errors") - g("dev", "rx_nohandler") \
        - g("dev", "rx_otherhost_dropped") - ip - arp
    ipd = ip - g("Ip", "InHdrErrors") - g("Ip", "InTruncatedPkts") - g("Ip", "InAddrErrors") \
        - g("Ip", "ReasmReqds") - g("Ip", "InUnknownProtos") - g("Ip", "InDiscards") \
        - g("Ip", "InNoRoutes") - g("Ip", "InDelivers") - g("Ip", "InMartians")
    l4 = g("Ip", "InDelivers") - g("Icmp", "InMsgs") \
        - g("Tcp", "InSegs") - g("Tcp", "InErrs") \
        - g("Udp", "InErrors") - g("Udp", "NoPorts") - g("Udp", "IgnoredMulti") \
        - g("Udp", "InDatagrams") - g("Udp", "queued")
    return {"dev": dev, "ip": ipd, "l4": l4}


def baseline():
    gc.collect()
    from ksock.fs import fdtable
    from ksock.net import socket as nsock
    p = netdev.skb_pool
    pooled = 0  # the shared TCP chunk pool (net/core/sk_mem.py): budget memory, made on demand, not a leak
    try:
        from ksock.net.core import sk_mem
        pooled = sk_mem.pool_stats()[0] * sk_mem.CHUNK
    except (ImportError, AttributeError):
        pass
    live = 0  # rings of TCP socks still alive (orphans finishing): tcp_mem's, counted apart
    tcps = 0
    try:
        from ksock.net.ipv4 import tcp_ipv4, inet_timewait_sock
        pooled += inet_timewait_sock.tw_pool_bytes()  # TIME_WAIT record chunks: freed when the last expires
        tcps += inet_timewait_sock.tw_count()
        for ch in tcp_ipv4.ehash:
            for sk in ch or ():
                tcps += 1
                for r in (getattr(sk, "rcv_ring", None), getattr(sk, "snd_ring", None)):
                    if r is not None:
                        live += 2 * len(r)  # the slot table; its chunks are in `pooled`
    except (ImportError, AttributeError):
        pass
    return {"skb_free": p.avail, "skb_count": p.count, "fds": fdtable.fd_in_use(),
            "sockets": nsock.sockets_in_use(), "heap": gc.mem_alloc() - pooled - live, "ring_pool": pooled,
            "rings_live": live, "tcp_socks": tcps}


def alive_checks():
    """No hang: a ping from the peer is answered, and a TCP connection from the
    peer echoes (the peer is the FuzzDev's other end: frames in, frames out)."""
    w = _w
    d = w["dev"]
    r0 = d.echo_replies
    t = templates(None)[2]
    b = bytearray(t[0])
    inject(b, t[1])
    _settle(0)
    ping = d.echo_replies == r0 + 1
    # a TCP echo from the peer: handshake, "alive?", the echo comes back on the wire
    ok = "no handshake"
    e = establish(APORT)
    if e:
        d.rx_data = b""
        b = bytearray(80)
        _eth(b, KMAC, 0x0800)
        o = _ip(b, 6, 26)
        n = _tcp(b, o, APORT, EPORT, e[1], e[0], 0x18, b"alive?")
        _csum_fix(b, n)
        inject(b, n)
        for _ in range(300):  # up to 3 s of softirq (QEMU is slow)
            _settle(10)
            if d.rx_data == b"alive?":
                ok = True
                break
        if ok is not True:
            ok = "no echo: got %r, app conns %d, app oom %d" % (d.rx_data, len(w["app"].conns), w["app"].oom)
        b = bytearray(80)  # and goes away with an RST
        _eth(b, KMAC, 0x0800)
        o = _ip(b, 6, 20)
        n = _tcp(b, o, APORT, EPORT, (e[1] + 6) & 0xFFFFFFFF, 0, 0x04)
        _csum_fix(b, n)
        inject(b, n)
    d.port = CPORT
    w["est"] = None
    _settle(50)
    return ping, ok


def _tb(e):
    import sys
    import io
    s = io.StringIO()
    try:
        sys.print_exception(e, s)
    except AttributeError:  # CPython
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__, file=s)
    return s.getvalue()


def run(seed, count, start=0):
    """Feed frames start..start+count-1 of run `seed`. Returns a dict of totals;
    a Python exception out of the stack is caught here and reported with the
    frame that raised it ("crash": [index, hex, summed, repr])."""
    from ksock import compat as time  # ticks_ms/ticks_diff, also where `time` is missing (QEMU)
    w = world()
    app = w["app"]
    rnd = Rand(seed * 1000003 + start)
    last = w["last"]
    cap = len(last) - 8
    c0 = counters()
    t0 = time.ticks_ms()
    tpl = None
    sent = 0
    nopool = 0
    crash = None
    i = start
    end = start + count
    while i < end:
        if tpl is None or (i & 1023) == 0:
            if not _est_alive() or w["est"] is None:
                w["est"] = establish()
            dv = w["dev"]
            est = (dv.est_seq, dv.est_ack) if w["est"] else None
            tpl = templates(est)
        for _ in range(BATCH if end - i > BATCH else end - i):
            b, n = tpl[rnd.r(len(tpl))]
            last[0:n] = b[0:n]
            n, cs = mutate(rnd, last, n, cap)
            skb = netdev.netdev_alloc_skb()
            if skb is None:
                nopool += 1  # as a driver: the pool is empty, the frame stays "on the wire"
                w["dev"].stats.rx_dropped += 1
                i += 1
                continue
            skbuff.skb_put(skb, n)
            skbuff.skb_store_bits(skb, 0, last, 0, n)
            skb.ip_summed = cs
            try:
                netdev.netif_receive_skb(skb, w["dev"])
            except Exception as e:  # a crash: keep the frame that raised it
                crash = [i, bytes(last[0:n]).hex(), cs, _tb(e)]
                break
            sent += 1
            i += 1
        if crash:
            break
        try:
            softirq.run_post_rx()  # the end of a receive batch, as after a driver's poll (deferred ACKs)
            softirq.run_for(0)
            app.round()
        except Exception as e:
            crash = [i - 1, bytes(last[0:n]).hex(), cs, "after: " + _tb(e)]
            break
    ms = time.ticks_diff(time.ticks_ms(), t0)
    _settle(20)
    u = unaccounted(c0, counters())
    return {"seed": seed, "start": start, "frames": sent, "nopool": nopool, "ms": ms,
            "unaccounted": u, "crash": crash, "tx": w["dev"].tx, "app_oom": app.oom}


def replay(frames):
    """Feed [(hex, ip_summed)] in order (a case file); returns unaccounted()."""
    w = world()
    c0 = counters()
    b = bytearray(netdev.SKB_SIZE)
    for h, cs in frames:
        f = bytes.fromhex(h)
        b[0:len(f)] = f
        inject(b, len(f), cs)
        softirq.run_for(0)
        w["app"].round()
    _settle(20)
    return unaccounted(c0, counters())


def settle(ms=3000):
    """Close the fuzzed connections, let the stack drain (timers, FINs, RSTs)."""
    w = _w
    for c in w["app"].conns:
        c.close()
    w["app"].conns = []
    w["est"] = None
    softirq.run_for(100)
    # the peer forgets its connections: an RST at rcv_nxt for each (orphans included)
    from ksock.net.ipv4 import tcp_ipv4
    socks = []
    for ch in tcp_ipv4.ehash:
        for sk in ch or ():
            if getattr(sk, "inet_daddr", None) == PIP and sk.sk_state in (1, 4, 5, 7, 8, 9, 11):
                socks.append(sk)
    b = bytearray(80)
    for sk in socks:
        _eth(b, KMAC, 0x0800)
        o = _ip(b, 6, 20)
        n = _tcp(b, o, sk.inet_dport, sk.inet_num, sk.rcv_nxt, 0, 0x04)
        _csum_fix(b, n)
        inject(b, n)
        softirq.run_for(0)
    softirq.run_for(ms)
    p = netdev.skb_pool  # an skb still in flight (an ARP queue, a timer) comes home within seconds
    softirq.wait_event(lambda: p.avail == p.count, 10000)
