# A scripted TCP peer for simulated-time tests (packetdrill in spirit): a netdev
# whose transmit captures ksock's frames, inject() feeding crafted Ethernet/IPv4/
# TCP frames to netif_receive_skb, expect() checking what ksock sent (including
# its IPv4 and TCP checksums, computed here independently), advance() running
# the softirq loop in simulated ms. ImpairLo is a loopback with a seeded lossy,
# reordering, duplicating link. Test aid only: the stack never imports it.
# Checks raise AssertionError themselves: ksock is frozen with opt=3, which
# strips `assert` statements (they were no-ops on every frozen target).
import struct
from ksock.kernel import time as ktime, softirq, timer
from ksock.net.core import dev as netdev, skbuff
from ksock.drivers.loopback import LoopbackDev

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
_M = 0xFFFFFFFF
KMAC = b"\x02\x00\x00\x00\x00\x01"
PMAC = b"\x02\x00\x00\x00\x00\x02"


def csum(b, off, n, s=0):
    """Internet checksum of b[off:off+n] plus s (end-around carry, folded)."""
    end = off + n - 1
    i = off
    while i < end:
        s += (b[i] << 8) | b[i + 1]
        i += 2
    if n & 1:
        s += b[off + n - 1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _aton(a):
    return bytes(int(x) for x in a.split("."))


class ScriptDev(netdev.net_device):
    """A NIC whose wire is a list: ndo_start_xmit keeps each frame as bytes."""

    def __init__(self, name="tst0"):
        super().__init__(name, KMAC)
        self.txq = []

    def ndo_start_xmit(self, skb):
        self.txq.append(bytes(skb.buf[skb.data:skb.data + skb.len]))
        skbuff.kfree_skb(skb)
        return 0


class Seg:
    """A segment ksock sent: seq relative to ksock's ISN, ack absolute."""

    def __repr__(self):
        return "<seg %s seq=%d ack=%d win=%d len=%d>" % (
            fl(self.flags), self.seq, self.ack, self.win, len(self.data))


def fl(f):
    return "".join(c for c, b in (("F", 1), ("S", 2), ("R", 4), ("P", 8), (".", 16)) if f & b)


_FRAME = bytearray(1600)


class Peer:
    """The remote end of one 4-tuple. The peer's sequence numbers are absolute;
    ksock's are relative to its ISN (learned from its SYN or SYN-ACK), as
    packetdrill writes them: ack=1 acknowledges ksock's SYN."""

    def __init__(self, dev, kaddr, paddr, kport, pport):
        self.dev = dev
        self.kaddr = _aton(kaddr)
        self.paddr = _aton(paddr)
        self.kport = kport
        self.pport = pport
        self.isn = 0
        self.ipid = 0
        self.other = 0  # frames of other 4-tuples seen (and dropped) by recv()

    def frame(self, flags, seq, ack=0, win=65535, data=b"", mss=0, ws=-1, opts=b""):
        if mss:
            opts = struct.pack(">BBH", 2, 4, mss) + (bytes((1, 3, 3, ws)) if ws >= 0 else b"") + opts
        while len(opts) & 3:
            opts += b"\x01"
        thl = 20 + len(opts)
        n = thl + len(data)
        # one scratch frame (inject copies it into an skb): on a board's heap a
        # test that makes a fresh KB per segment fails before the stack does
        b = memoryview(_FRAME)[:34 + n] if 34 + n <= len(_FRAME) else bytearray(34 + n)
        b[0:6] = KMAC
        b[6:12] = PMAC
        b[12:14] = b"\x08\x00"
        self.ipid = (self.ipid + 1) & 0xFFFF
        struct.pack_into(">BBHHHBBH4s4s", b, 14, 0x45, 0, 20 + n, self.ipid, 0x4000, 64, 6, 0,
                         self.paddr, self.kaddr)
        c = csum(b, 14, 20) ^ 0xFFFF
        struct.pack_into(">H", b, 24, c)
        a = (self.isn + ack) & _M if flags & ACK else 0
        struct.pack_into(">HHIIBBHHH", b, 34, self.pport, self.kport, seq & _M, a, (thl >> 2) << 4,
                         flags, win, 0, 0)
        b[54:54 + len(opts)] = opts
        b[34 + thl:] = data
        c = csum(b, 34, n, csum(b, 26, 8, 6 + n)) ^ 0xFFFF
        struct.pack_into(">H", b, 50, c)
        return b

    def inject(self, frame):
        skb = netdev.netdev_alloc_skb()
        if skb is None:
            raise AssertionError("skb pool empty")
        skbuff.skb_put_data(skb, frame)
        netdev.netif_receive_skb(skb, self.dev)
        softirq.run_post_rx()  # the end of a one-frame receive batch (deferred ACKs go out)

    def send(self, flags, seq, ack=0, win=65535, data=b"", **kw):
        """inject(frame(...)): one segment from the peer."""
        self.inject(self.frame(flags, seq, ack, win, data, **kw))

    def recv(self):
        """The next frame ksock sent on this 4-tuple (checked and parsed), or None."""
        q = self.dev.txq
        while q:
            b = q.pop(0)
            if b[12:14] != b"\x08\x00" or b[0:6] != PMAC:
                raise AssertionError("not IPv4 to the peer")
            ihl = (b[14] & 15) * 4
            tot = (b[16] << 8) | b[17]
            if csum(b, 14, ihl) != 0xFFFF:
                raise AssertionError("bad IPv4 header checksum")
            if b[23] != 6 or b[30:34] != self.paddr:
                self.other += 1
                continue
            t = 14 + ihl
            n = tot - ihl
            if csum(b, t, n, csum(b, 26, 8, 6 + n)) != 0xFFFF:
                raise AssertionError("bad TCP checksum")
            sport, dport, seq, ack, off, flags, win = struct.unpack_from(">HHIIBBH", b, t)
            if sport != self.kport or dport != self.pport:
                self.other += 1
                continue
            s = Seg()
            if flags & SYN:
                self.isn = seq
            s.flags, s.ack, s.win = flags, ack, win
            s.seq = (seq - self.isn) & _M
            thl = (off >> 4) * 4
            s.data = b[t + thl:t + n]
            s.mss = s.ws = -1
            i = t + 20
            while i < t + thl and b[i]:
                if b[i] == 1:
                    i += 1
                    continue
                if b[i] == 2:
                    s.mss = (b[i + 2] << 8) | b[i + 3]
                elif b[i] == 3:
                    s.ws = b[i + 2]
                i += b[i + 1]
            return s
        return None

    def expect(self, flags, seq=None, ack=None, win=None, data=None, mss=None):
        """The next segment must have exactly `flags` (and the given fields)."""
        s = self.recv()
        if s is None:
            raise AssertionError("expected %s, nothing sent" % fl(flags))
        if s.flags != flags:
            raise AssertionError("expected %s, got %r" % (fl(flags), s))
        for name, v in (("seq", seq), ("ack", ack), ("win", win), ("data", data), ("mss", mss)):
            if v is not None:
                if getattr(s, name) != v:
                    raise AssertionError("%s: %r != %r in %r" % (name, getattr(s, name), v, s))
        return s

    def expect_none(self):
        s = self.recv()
        if s is not None:
            raise AssertionError("expected silence, got %r" % s)

    def drain(self):
        n = 0
        while self.recv() is not None:
            n += 1
        return n


def one_pass(*sends):
    """Frames met in one receive pass (a burst queued on the NIC while the
    stack was elsewhere): each (peer, flags, seq, ack...) is received, then
    the pass ends once. Returns nothing; read the replies with expect()."""
    dev = None
    for p, *a in sends:
        dev = p.dev
        skb = netdev.netdev_alloc_skb()
        if skb is None:
            raise AssertionError("skb pool empty")
        skbuff.skb_put_data(skb, p.frame(*a))
        netdev.netif_receive_skb(skb, dev)
    softirq.run_post_rx()


def advance(ms):
    """Run the stack for `ms` simulated ms (timers fire at their exact times)."""
    softirq.run_for(ms)


def now():
    return ktime.clock.now_ms()


class Rand:
    """xorshift32: the same sequence on every interpreter for a given seed."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & _M or 1

    def next(self):
        x = self.s
        x ^= (x << 13) & _M
        x ^= x >> 17
        x ^= (x << 5) & _M
        self.s = x
        return x

    def chance(self, pct):
        return self.next() % 1000 < pct * 10


class ImpairLo(LoopbackDev):
    """lo with a seeded impaired link: each frame is lost, duplicated or
    delayed (base + jitter ms, so frames overtake each other), in simulated
    time. Held frames keep their skbs, as a real queue would."""

    def __init__(self, seed, loss=2, dup=1, delay=2, jitter=6):
        super().__init__()
        self.rnd = Rand(seed)
        self.loss, self.dup, self.delay, self.jitter = loss, dup, delay, jitter
        self.held = []  # [due_ms, skb], unordered
        self.t = timer.timer_list(self._due)
        self.dropped = self.duped = self.sent = 0

    def _due(self, _):
        pass  # the timer only ends the loop's idle; poll() delivers

    def _hold(self, skb):
        r = self.rnd
        due = ktime.clock.now_ms() + self.delay + (r.next() % (self.jitter + 1))
        self.held.append([due, skb])
        if self.t._slot < 0 or ktime.clock.diff(due, self.t.expires) < 0:
            timer.mod_timer(self.t, due)

    def ndo_start_xmit(self, skb):
        self.sent += 1
        r = self.rnd
        if r.chance(self.loss):
            self.dropped += 1
            skbuff.kfree_skb(skb)
            return 0
        if r.chance(self.dup):
            c = netdev.netdev_alloc_skb()
            if c is not None:
                self.duped += 1
                skbuff.skb_put_data(c, memoryview(skb.buf)[skb.data:skb.data + skb.len])
                self._hold(c)
        self._hold(skb)
        return 0

    def poll(self, budget):
        now = ktime.clock.now_ms()
        n = 0
        held = self.held
        i = 0
        nxt = None
        while i < len(held):
            due = held[i][0]
            if ktime.clock.diff(due, now) <= 0 and n < budget:
                skb = held.pop(i)[1]
                n += 1
                netdev.netif_receive_skb(skb, self)
                continue
            if nxt is None or ktime.clock.diff(due, nxt) < 0:
                nxt = due
            i += 1
        if nxt is not None and (self.t._slot < 0 or self.t.expires != nxt):
            timer.mod_timer(self.t, nxt)
        return n

    def ndo_stop(self):
        for e in self.held:
            skbuff.kfree_skb(e[1])
        self.held = []
        timer.del_timer(self.t)
        return 0


# ---- a scripted world and per-state setup helpers ------------------------------------
# ksock is KA on ScriptDev "tst0"; every Peer is PA (a permanent neighbour), each
# on a fresh port so leftovers of an earlier test never match its 4-tuple.
KA = "192.0.2.1"
PA = "192.0.2.2"
_w = {}


def world():
    """Simulated clock, the scripted NIC and addresses (once per interpreter)."""
    if not _w:
        from ksock import stack
        stack.init()
        ktime.set_clock(ktime.SimClock(0))
        d = ScriptDev()
        stack.add_dev(d)
        stack.ip_addr_add("tst0", KA + "/24")
        stack.ip_neigh_add(PA, "02:00:00:00:00:02", "tst0")
        _w["dev"] = d
        _w["port"] = 20000
    return _w["dev"]


def fresh():
    """Between tests: close every fd, end leftover connections silently, empty the wire."""
    from ksock import sys as K
    from ksock.net.ipv4 import tcp, tcp_ipv4, tcp_minisocks, inet_timewait_sock
    d = world()
    K.close_range(3)
    inet_timewait_sock.inet_twsk_purge()
    for chain in tcp_ipv4.ehash:
        for e in list(chain or ()):
            st = e.sk_state
            if st == tcp.TCP_NEW_SYN_RECV:
                tcp_minisocks.inet_csk_reqsk_queue_drop(e)
            else:
                tcp.tcp_done(e)  # (sends nothing; the wire is emptied below)
                tcp.tcp_destroy(e)
    del d.txq[:]
    import gc
    gc.collect()  # the board's heap: the next test's rings need whole blocks


def peer(kport):
    _w["port"] += 1
    return Peer(world(), KA, PA, kport, _w["port"])


def sk_of(fd):
    from ksock.net import socket as S
    from ksock.fs import fdtable
    return S.sock_from_file(fdtable.fdget(fd)).sk


def state(p):
    """The TCP state of p's 4-tuple in the established hash, or TIME_WAIT's
    records (7 = CLOSE: none)."""
    from ksock.net.ipv4 import tcp_ipv4, inet_timewait_sock as itw
    for chain in tcp_ipv4.ehash:
        for e in chain or ():
            if e.inet_num == p.kport and e.inet_dport == p.pport:
                return e.sk_state
    return 6 if itw.inet_twsk_find(p.kaddr, p.kport, p.paddr, p.pport) >= 0 else 7


def listen(port, backlog=8):
    from ksock import sys as K
    fd = K.socket(2, 1 | K.SOCK_NONBLOCK)
    K.setsockopt(fd, K.SOL_SOCKET, K.SO_REUSEADDR, 1)
    K.bind(fd, (KA, port))
    K.listen(fd, backlog)
    return fd


def syn_sent(port, **kw):
    """A non-blocking connect() from KA:port: (peer, fd) with the SYN checked."""
    from ksock import sys as K
    fd = K.socket(2, 1 | K.SOCK_NONBLOCK)
    K.bind(fd, (KA, port))
    p = peer(port)
    try:
        K.connect(fd, (PA, p.pport))
    except OSError as e:
        if e.args[0] != 115:  # EINPROGRESS
            raise
    p.expect(SYN, seq=0, mss=1460)
    return p, fd


def established(port, mss=1460, passive=False):
    """(peer, fd) of an ESTABLISHED connection; the peer's ISN is 1000, so its
    next byte is 1001 and ksock's next is 1 (relative)."""
    from ksock import sys as K
    if passive:
        lfd = listen(port)
        p = peer(port)
        p.send(SYN, 1000, mss=mss)
        p.expect(SYN | ACK, seq=0, ack=1001)
        p.send(ACK, 1001, 1)
        fd = K.accept(lfd)[0]
        K.close(lfd)
    else:
        p, fd = syn_sent(port)
        p.send(SYN | ACK, 1000, 1, mss=mss)
        p.expect(ACK, seq=1, ack=1001)
    p.expect_none()
    return p, fd


def fin_wait1(port, **kw):
    from ksock import sys as K
    p, fd = established(port, **kw)
    K.shutdown(fd, K.SHUT_WR)
    p.expect(FIN | ACK, seq=1, ack=1001)
    return p, fd


def fin_wait2(port):
    p, fd = fin_wait1(port)
    p.send(ACK, 1001, 2)
    return p, fd


def close_wait(port):
    p, fd = established(port)
    p.send(FIN | ACK, 1001, 1)
    p.expect(ACK, seq=1, ack=1002)
    return p, fd


def last_ack(port):
    from ksock import sys as K
    p, fd = close_wait(port)
    K.shutdown(fd, K.SHUT_WR)
    p.expect(FIN | ACK, seq=1, ack=1002)
    return p, fd


def closing(port):
    p, fd = fin_wait1(port)
    p.send(FIN | ACK, 1001, 1)  # their FIN crossed ours: it does not ack our FIN
    p.expect(ACK, seq=2, ack=1002)
    return p, fd


def time_wait(port):
    p, fd = fin_wait2(port)
    p.send(FIN | ACK, 1001, 2)
    p.expect(ACK, seq=2, ack=1002)
    return p, fd
