# net/ipv4/inet_timewait_sock.c: TIME_WAIT as small fixed-size records. Linux
# swaps the full sock for a small inet_timewait_sock (4-tuple, snd_nxt/rcv_nxt,
# window, substate, a timer); here a record is TW_SIZE bytes of a chunk (a
# bytearray of records, made on demand), so tens of thousands fit where full
# socks (773 bytes each on the unix port) did not. Records are chained by
# 16-bit index in their own hash, which the established lookup asks after the
# sock chains miss, and in ONE time-ordered list under ONE reaper timer (the
# tw death row: every TIME_WAIT lives tcp_timewait_len, so insertion order is
# expiry order; a rescheduled record moves to the tail). The port stays held
# in the bind hash by a bucket per (port, address, device, reuse flags) that
# counts its records, so bind() and connect() meet TIME_WAIT as Linux's
# tb->owners do.
from array import array
from ksock.compat import const, PLATFORM
from ksock.kernel import time as ktime
from ksock.kernel import timer
from ksock.net.core import sysctl
from ksock.net.ipv4 import inet_hashtables as ih
from ksock.net.ipv4.proc import tcpext as XMIB

TW_SIZE = const(34)
_LADDR = const(0)
_RADDR = const(4)
_LPORT = const(8)
_RPORT = const(10)
_SNDNXT = const(12)
_RCVNXT = const(16)
_RCVWND = const(20)
_FLAGS = const(22)  # bit 0 tw_reuse, 1 tw_reuseport, 2 port from connect(); bits 4-7 tw_substate
_DEV = const(23)
_EXP = const(24)  # expiry, ms on a 30-bit wrap
_HNEXT = const(28)
_FNEXT = const(30)  # the death row (or the free list)
_FPREV = const(32)
NIL = const(0xFFFF)
TW_LIMIT = const(0xFFFE)  # indices are 16-bit
CHUNK_SHIFT = const(8) if PLATFORM == "linux" else const(2)  # 8.7 KB / 136 B chunks
CHUNK_MASK = (1 << CHUNK_SHIFT) - 1
_M30 = const(0x3FFFFFFF)
_H29 = const(0x20000000)
TCP_TIME_WAIT = const(6)
TW_RESERVE = const(118272)  # heap kept for the stack and its connections (QEMU board: 256 records)


class inet_tw_bucket:
    """The records of one (port, address, device, reuse flags) as one owner of
    the port in the bind hash: what inet_bind_conflict reads of a tw sock."""
    __slots__ = ("inet_num", "inet_rcv_saddr", "sk_bound_dev_if", "sk_reuse", "sk_reuseport",
                 "icsk_bind_connect", "icsk_bind_hash", "tw_count")
    sk_state = TCP_TIME_WAIT
    sk_uid = 0  # a TIME_WAIT owner counts as the same user (inet_bind_conflict)


class inet_timewait_death_row:
    """The records, their hash, the time-ordered list and its one timer."""
    __slots__ = ("chunks", "free", "hash", "hmask", "head", "tail", "count", "timer", "hashinfo")

    def __init__(self):
        self.chunks = []
        self.free = NIL
        self.hash = array("H", [NIL] * 16)
        self.hmask = 15
        self.head = self.tail = NIL
        self.count = 0
        self.timer = timer.timer_list(inet_twdr_reap)
        self.hashinfo = None


def _g16(b, o):
    return (b[o] << 8) | b[o + 1]


def _p16(b, o, v):
    b[o] = v >> 8
    b[o + 1] = v & 255


def _g32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def _p32(b, o, v):
    b[o] = (v >> 24) & 255
    b[o + 1] = (v >> 16) & 255
    b[o + 2] = (v >> 8) & 255
    b[o + 3] = v & 255


def _rec(i):
    return tcp_death_row.chunks[i >> CHUNK_SHIFT], (i & CHUNK_MASK) * TW_SIZE


def _now30():
    # every clock's ms wrap is a multiple of 2**30, so 30-bit arithmetic is exact
    return ktime.clock.now_ms() & _M30


def _left(b, o, now):
    return ((_g32(b, o + _EXP) - now + _H29) & _M30) - _H29


def _hashfn(lport, rport, raddr_lo):
    return (lport ^ (rport * 31) ^ (raddr_lo << 7)) & tcp_death_row.hmask


def inet_twsk_init(heap):
    """tcp_max_tw_buckets from the heap, as Linux sizes it linearly from RAM
    (half its established hash): here as many records as fill 2/5 of the heap
    beyond the stack's own working set (TW_RESERVE), so a board keeps room to
    serve new connections; the record hash gets one head per 8 records."""
    dr = tcp_death_row
    n = (heap - TW_RESERVE) * 2 // (5 * TW_SIZE) if heap > TW_RESERVE else 0
    if n > TW_LIMIT:
        n = TW_LIMIT
    sysctl._tab["net.ipv4.tcp_max_tw_buckets"] = n
    h = 16
    while h < 4096 and h * 8 < n:
        h <<= 1
    if h != len(dr.hash):
        dr.hash = array("H", [NIL] * h)
        dr.hmask = h - 1


def _grow():
    dr = tcp_death_row
    base = len(dr.chunks) << CHUNK_SHIFT
    if base + CHUNK_MASK >= TW_LIMIT:
        return False
    c = bytearray(TW_SIZE << CHUNK_SHIFT)
    dr.chunks.append(c)
    nxt = dr.free
    for j in range(CHUNK_MASK, -1, -1):  # the new records head the free list, lowest first
        _p16(c, j * TW_SIZE + _FNEXT, nxt)
        nxt = base + j
    dr.free = nxt
    return True


def _bucket(hinfo, port, laddr, dev, flags, create):
    for b in ih.inet_bind_owners(hinfo, port):
        if (b.sk_state == TCP_TIME_WAIT and b.inet_rcv_saddr == laddr and b.sk_bound_dev_if == dev
                and b.sk_reuse | (b.sk_reuseport << 1) | (b.icsk_bind_connect << 2) == flags & 7):
            return b
    if not create:
        return None
    b = inet_tw_bucket()
    b.inet_rcv_saddr = laddr
    b.sk_bound_dev_if = dev
    b.sk_reuse = flags & 1
    b.sk_reuseport = (flags >> 1) & 1
    b.icsk_bind_connect = (flags >> 2) & 1
    b.tw_count = 0
    ih.inet_bind_hash(b, hinfo, port)
    return b


def inet_twsk_alloc(sk, substate, snd_nxt, rcv_nxt, rcv_wnd, tmo):
    """A record for sk's 4-tuple, hashed, holding the port, on the death row
    for tmo ms; -1 when tcp_max_tw_buckets are in use or no memory is left
    (the caller counts TCPTimeWaitOverflow)."""
    dr = tcp_death_row
    if dr.count >= sysctl.sysctl("net.ipv4.tcp_max_tw_buckets"):
        return -1
    hinfo = sk.sk_prot.h
    flags = ((1 if sk.sk_reuse else 0) | (2 if sk.sk_reuseport else 0) | (4 if sk.icsk_bind_connect else 0)
             | (substate << 4))
    try:
        if dr.free == NIL and not _grow():
            return -1
        bk = _bucket(hinfo, sk.inet_num, sk.inet_rcv_saddr, sk.sk_bound_dev_if, flags, True)
    except MemoryError:
        return -1
    dr.hashinfo = hinfo
    bk.tw_count += 1
    i = dr.free
    b, o = _rec(i)
    dr.free = _g16(b, o + _FNEXT)
    b[o + _LADDR:o + _LADDR + 4] = sk.inet_rcv_saddr
    raddr = sk.inet_daddr
    b[o + _RADDR:o + _RADDR + 4] = raddr
    _p16(b, o + _LPORT, sk.inet_num)
    _p16(b, o + _RPORT, sk.inet_dport)
    _p32(b, o + _SNDNXT, snd_nxt)
    _p32(b, o + _RCVNXT, rcv_nxt)
    _p16(b, o + _RCVWND, rcv_wnd if rcv_wnd < 0xFFFF else 0xFFFF)
    b[o + _FLAGS] = flags
    b[o + _DEV] = sk.sk_bound_dev_if & 255
    h = _hashfn(sk.inet_num, sk.inet_dport, raddr[3])
    _p16(b, o + _HNEXT, dr.hash[h])
    dr.hash[h] = i
    dr.count += 1
    _schedule(i, b, o, tmo)
    return i


def _unlink_row(b, o):
    dr = tcp_death_row
    nxt = _g16(b, o + _FNEXT)
    prv = _g16(b, o + _FPREV)
    if prv == NIL:
        dr.head = nxt
    else:
        pb, po = _rec(prv)
        _p16(pb, po + _FNEXT, nxt)
    if nxt == NIL:
        dr.tail = prv
    else:
        nb, no = _rec(nxt)
        _p16(nb, no + _FPREV, prv)


def _schedule(i, b, o, tmo):
    """Expire record i in tmo ms: it goes to the tail of the death row."""
    dr = tcp_death_row
    _p32(b, o + _EXP, (_now30() + tmo) & _M30)
    _p16(b, o + _FNEXT, NIL)
    _p16(b, o + _FPREV, dr.tail)
    if dr.tail == NIL:
        dr.head = i
    else:
        tb, to = _rec(dr.tail)
        _p16(tb, to + _FNEXT, i)
    dr.tail = i
    if not timer.timer_pending(dr.timer):
        timer.mod_timer_in(dr.timer, tmo)


def inet_twsk_reschedule(i, tmo):
    """The 2MSL wait starts again (a FIN was repeated)."""
    b, o = _rec(i)
    _unlink_row(b, o)
    _schedule(i, b, o, tmo)


def inet_twsk_kill(i):
    """Out of the hash, the death row and the bind hash; the record is free."""
    dr = tcp_death_row
    b, o = _rec(i)
    if not b[o + _FLAGS] >> 4:
        return
    h = _hashfn(_g16(b, o + _LPORT), _g16(b, o + _RPORT), b[o + _RADDR + 3])
    j = dr.hash[h]
    if j == i:
        dr.hash[h] = _g16(b, o + _HNEXT)
    else:
        while j != NIL:
            jb, jo = _rec(j)
            n = _g16(jb, jo + _HNEXT)
            if n == i:
                _p16(jb, jo + _HNEXT, _g16(b, o + _HNEXT))
                break
            j = n
    _unlink_row(b, o)
    bk = _bucket(dr.hashinfo, _g16(b, o + _LPORT), bytes(b[o + _LADDR:o + _LADDR + 4]), b[o + _DEV],
                 b[o + _FLAGS], False)
    if bk is not None:
        bk.tw_count -= 1
        if bk.tw_count <= 0:
            ih.inet_put_port(bk)
    b[o + _FLAGS] = 0
    _p16(b, o + _FNEXT, dr.free)
    dr.free = i
    dr.count -= 1
    if not dr.count:
        _shrink()


def _shrink():
    """The last record went: every chunk goes back to the heap (a burst of
    TIME_WAIT leaves no lasting cost; the next record makes a chunk again)."""
    dr = tcp_death_row
    del dr.chunks[:]
    dr.free = NIL
    if timer.timer_pending(dr.timer):
        timer.del_timer(dr.timer)


def inet_twdr_reap(_):
    """tw_timer_handler for every record due: TimeWaited (TW) counts each."""
    dr = tcp_death_row
    now = _now30()
    while dr.head != NIL:
        i = dr.head
        b, o = _rec(i)
        left = _left(b, o, now)
        if left > 0:
            timer.mod_timer_in(dr.timer, left)
            return
        XMIB.TW += 1
        inet_twsk_kill(i)


def inet_twsk_purge():
    """Every record goes (the stack's teardown; tests between cases)."""
    dr = tcp_death_row
    while dr.head != NIL:
        inet_twsk_kill(dr.head)


def _addr_at(buf, off, b, o):
    return buf[off] == b[o] and buf[off + 1] == b[o + 1] and buf[off + 2] == b[o + 2] and buf[off + 3] == b[o + 3]


def inet_twsk_lookup(buf, nh, sport, dport):
    """The record of a segment's 4-tuple (its IPv4 header at nh), or -1."""
    dr = tcp_death_row
    if not dr.count:
        return -1
    i = dr.hash[_hashfn(dport, sport, buf[nh + 15])]
    while i != NIL:
        b, o = _rec(i)
        if (_g16(b, o + _LPORT) == dport and _g16(b, o + _RPORT) == sport
                and _addr_at(buf, nh + 12, b, o + _RADDR) and _addr_at(buf, nh + 16, b, o + _LADDR)):
            return i
        i = _g16(b, o + _HNEXT)
    return -1


def inet_twsk_find(laddr, lport, raddr, rport):
    """The record of a 4-tuple (addresses as 4 bytes), or -1: connect()'s check."""
    dr = tcp_death_row
    if not dr.count:
        return -1
    i = dr.hash[_hashfn(lport, rport, raddr[3])]
    while i != NIL:
        b, o = _rec(i)
        if (_g16(b, o + _LPORT) == lport and _g16(b, o + _RPORT) == rport
                and _addr_at(raddr, 0, b, o + _RADDR) and _addr_at(laddr, 0, b, o + _LADDR)):
            return i
        i = _g16(b, o + _HNEXT)
    return -1


def inet_twsk_walk():
    """Indices of the records in use, in index order; safe while records come
    and go between steps (a /proc reader that runs the stack meanwhile)."""
    dr = tcp_death_row
    i = 0
    while (i >> CHUNK_SHIFT) < len(dr.chunks):
        b, o = _rec(i)
        if b[o + _FLAGS] >> 4:
            yield i
        i += 1


# Fields of a record (the tw_* of inet_timewait_sock / tcp_timewait_sock).
def tw_substate(i):
    b, o = _rec(i)
    return b[o + _FLAGS] >> 4


def tw_snd_nxt(i):
    b, o = _rec(i)
    return _g32(b, o + _SNDNXT)


def tw_rcv_nxt(i):
    b, o = _rec(i)
    return _g32(b, o + _RCVNXT)


def tw_rcv_wnd(i):
    b, o = _rec(i)
    return _g16(b, o + _RCVWND)


def tw_ports(i):
    """(local port, remote port)."""
    b, o = _rec(i)
    return _g16(b, o + _LPORT), _g16(b, o + _RPORT)


def tw_addrs(i):
    """(local address, remote address) as 4 bytes each."""
    b, o = _rec(i)
    return bytes(b[o + _LADDR:o + _LADDR + 4]), bytes(b[o + _RADDR:o + _RADDR + 4])


def tw_ttd(i):
    """ms until the record expires (0 if due)."""
    b, o = _rec(i)
    left = _left(b, o, _now30())
    return left if left > 0 else 0


def tw_count():
    return tcp_death_row.count


def tw_pool_bytes():
    """Heap held by record chunks (in use or free): budget memory, not a leak."""
    return len(tcp_death_row.chunks) * (TW_SIZE << CHUNK_SHIFT)


tcp_death_row = inet_timewait_death_row()
