# Socket memory as net/core/sock.c accounts it (__sk_mem_raise_allocated,
# sk_rmem_schedule / sk_wmem_schedule of include/net/sock.h, tcp_init_mem of
# net/ipv4/tcp.c), with the role of Linux's page frags played by ONE shared
# pool of fixed-size chunks. A TCP ring (receive or send) is a table of chunk
# slots: its logical size is what sk_rcvbuf/sk_sndbuf allow, but a slot holds a
# chunk only while it holds data, so an idle connection holds no buffer at all.
# Chunks go back to the free list, never to the heap per packet; the pool grows
# at most to what the budget (net.ipv4.tcp_mem, in pages) allows.
from array import array
from ksock.compat import const, MICROPYTHON, PLATFORM
from ksock.net.core import sysctl
from ksock.kernel import fault_inject

CHUNK = const(2048)
CHUNK_SHIFT = const(11)
PAGE_SHIFT = const(12)  # sysctl tcp_mem/udp_mem and sockstat `mem` are in 4 KB pages, as Linux
SK_MEM_RECV = const(0)
SK_MEM_SEND = const(1)
# chunks made at init and kept when nothing is charged (sk_mem_reclaim gives the
# rest back): a board whose heap has fragmented still has whole 2 KB chunks
POOL_KEEP = const(8) if PLATFORM == "linux" else const(4)

_chunks = []  # chunk id - 1 -> bytearray(CHUNK); a slot holding 0 has no chunk
_free = []  # ids of chunks in no ring


class proto_memory:
    """A protocol's share of the budget: memory_allocated (here in chunks, Linux
    counts pages), memory_pressure, sockets_allocated and its sysctl."""

    def __init__(self, name, mem_sysctl, rmem_sysctl, wmem_sysctl):
        self.name = name
        self.mem = mem_sysctl
        self.rmem = rmem_sysctl
        self.wmem = wmem_sysctl
        self.allocated = 0
        self.pressure = 0
        self.sockets = 0
        self.enter_memory_pressure = None  # the protocol's counter (tcp_enter_memory_pressure)


tcp_memory = proto_memory("TCP", "net.ipv4.tcp_mem", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")


def pages(chunks):
    """Chunks -> pages, rounded up (sk_mem_pages)."""
    return (chunks * CHUNK + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT


def heap_size():
    if MICROPYTHON:
        import gc
        return gc.mem_free() + gc.mem_alloc()
    return 8 << 20


def tcp_init_mem():
    """tcp_init_mem / udp_init from the heap, as Linux sizes them from RAM.
    Linux takes 1/16 of the free buffer pages for TCP; on a MicroPython heap
    socket buffers are a main use of memory, so ksock takes 1/4 (min 3/16,
    pressure 1/4, max 3/8 of the heap); UDP: 1/8 as in Linux's udp_init."""
    heap = heap_size() >> PAGE_SHIFT
    limit = heap >> 2
    if limit < 4:
        limit = 4
    m0 = limit // 4 * 3
    tab = sysctl._tab
    tab["net.ipv4.tcp_mem"] = (m0, limit, m0 * 2)
    limit = heap >> 3
    if limit < 2:
        limit = 2
    m0 = limit // 4 * 3 or 1
    tab["net.ipv4.udp_mem"] = (m0, limit, m0 * 2)
    while len(_chunks) < POOL_KEEP:
        _chunks.append(bytearray(CHUNK))
        _free.append(len(_chunks))


def sk_enter_memory_pressure(prot):
    if not prot.pressure:
        prot.pressure = 1
        if prot.enter_memory_pressure is not None:
            prot.enter_memory_pressure()


def sk_leave_memory_pressure(prot):
    prot.pressure = 0


def sk_under_memory_pressure(sk):
    return tcp_memory.pressure


def __sk_mem_raise_allocated(sk, prot, amt, kind):
    """May `amt` more chunks be charged to sk? Linux's order: under min always;
    above pressure enter pressure; above max never; under pressure a socket
    still gets its rmem[0]/wmem[0] minimum and its fair share of max."""
    allocated = pages(prot.allocated + amt)
    limits = sysctl.sysctl(prot.mem)
    if allocated <= limits[0]:
        if prot.pressure:
            sk_leave_memory_pressure(prot)
        return True
    if allocated > limits[1]:
        sk_enter_memory_pressure(prot)
    if allocated > limits[2]:
        return False
    if kind == SK_MEM_RECV:
        if sk.sk_rmem_alloc < sysctl.sysctl(prot.rmem)[0]:
            return True
    elif sk.sk_wmem_queued < sysctl.sysctl(prot.wmem)[0]:
        return True
    if not prot.pressure:
        return True
    mine = (sk.sk_wmem_queued + sk.sk_rmem_alloc + amt * CHUNK + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
    return limits[2] > prot.sockets * mine


def sk_rmem_schedule(sk, amt):
    return __sk_mem_raise_allocated(sk, tcp_memory, amt, SK_MEM_RECV)


def sk_wmem_schedule(sk, amt):
    return __sk_mem_raise_allocated(sk, tcp_memory, amt, SK_MEM_SEND)


def _chunk_get():
    """A free chunk id, the pool grown by one if none is free; 0 when the heap
    has no room (never a MemoryError)."""
    if fault_inject.fail_nth[0] and fault_inject.should_fail():
        return 0
    if _free:
        return _free.pop()
    try:
        _chunks.append(bytearray(CHUNK))
    except MemoryError:
        return 0
    return len(_chunks)


def _chunk_put(cid):
    _free.append(cid)
    prot = tcp_memory
    prot.allocated -= 1
    if prot.pressure and pages(prot.allocated) < sysctl.sysctl(prot.mem)[0]:
        sk_leave_memory_pressure(prot)  # __sk_mem_reduce_allocated
    if not prot.allocated and len(_free) > POOL_KEEP:
        sk_mem_reclaim()


def sk_mem_reclaim():
    """Nothing is charged: give the chunks above POOL_KEEP back to the heap, so
    a burst does not keep its peak once every connection is idle again. Only the
    highest ids can go (ids are list positions)."""
    if tcp_memory.allocated:
        return
    _free.sort()
    while len(_chunks) > POOL_KEEP and _free and _free[-1] == len(_chunks):
        _free.pop()
        _chunks.pop()


def pool_stats():
    """(chunks in the pool, chunks free): for tests and /proc."""
    return len(_chunks), len(_free)


# ---- rings of chunk slots -----------------------------------------------------------

def ring_new(size):
    """The slot table of a ring of `size` bytes (no chunk yet); MemoryError
    when the heap has no room."""
    if fault_inject.fail_nth[0] and fault_inject.should_fail():
        raise MemoryError
    return array("H", bytearray(2 * ((size + CHUNK - 1) >> CHUNK_SHIFT)))


def ring_missing(ring, size, i, n):
    """Slots of ring positions [i, i+n) (mod size) that hold no chunk yet."""
    need = 0
    s = i >> CHUNK_SHIFT
    last = (i + n - 1) % size >> CHUNK_SHIFT
    ns = len(ring)
    while True:
        if not ring[s]:
            need += 1
        if s == last:
            return need
        s += 1
        if s == ns:
            s = 0


def ring_ensure(sk, kind, ring, size, i, n, scheduled):
    """Chunks for positions [i, i+n), charged to sk; the bytes covered from i
    (n, or less when the budget or the heap stops it). `scheduled`: the caller
    has already checked the budget (or forces it, as Linux does for an empty queue)."""
    prot = tcp_memory
    s = i >> CHUNK_SHIFT
    done = 0
    ns = len(ring)
    while done < n:
        if not ring[s]:
            if not scheduled and not __sk_mem_raise_allocated(sk, prot, 1, kind):
                break
            cid = _chunk_get()
            if not cid:
                break
            ring[s] = cid
            prot.allocated += 1
            if kind == SK_MEM_RECV:
                sk.sk_rmem_alloc += CHUNK
            else:
                sk.sk_wmem_queued += CHUNK
        end = (s + 1) << CHUNK_SHIFT
        if end > size:
            end = size
        pos = (i + done) % size
        done += end - pos
        s += 1
        if s == ns:
            s = 0
    return done if done < n else n


def _release(sk, kind, ring, s):
    cid = ring[s]
    if cid:
        ring[s] = 0
        if kind == SK_MEM_RECV:
            sk.sk_rmem_alloc -= CHUNK
        else:
            sk.sk_wmem_queued -= CHUNK
        _chunk_put(cid)


def _hits(a, b, p, n, size):
    """Does slot [a, b) meet the circular range [p, p+n) of a ring of `size`?"""
    return n > 0 and ((a - p) % size < n or (p - a) % size < b - a)


def ring_release(sk, kind, ring, size, i, n, head, used, ofo=None, base=0):
    """Give back the chunks of slots touched by [i, i+n) that hold none of the
    live bytes: [head, head+used), and each out-of-order range [s, e) of `ofo`
    (sequence numbers, `base` being the sequence at head). After a read, an
    ACK, or an ofo prune."""
    if n <= 0:
        return
    s = i >> CHUNK_SHIFT
    last = (i + n - 1) % size >> CHUNK_SHIFT
    ns = len(ring)
    while True:
        if ring[s]:
            a = s << CHUNK_SHIFT
            b = a + CHUNK
            if b > size:
                b = size
            live = _hits(a, b, head, used, size)
            if not live and ofo:
                for r in ofo:
                    if _hits(a, b, (head + r[0] - base) % size, r[1] - r[0], size):
                        live = True
                        break
            if not live:
                _release(sk, kind, ring, s)
        if s == last:
            return
        s += 1
        if s == ns:
            s = 0


def ring_free(sk, kind, ring):
    """Every chunk of a ring back to the pool (the connection is gone)."""
    if ring is not None:
        for s in range(len(ring)):
            if ring[s]:
                _release(sk, kind, ring, s)


def ring_write(ring, size, i, src, soff, n):
    """Copy n bytes of buffer src (from soff) to ring positions [i, i+n)."""
    ch = _chunks
    while n > 0:
        o = i & (CHUNK - 1)
        k = CHUNK - o
        if k > size - i:
            k = size - i
        if k > n:
            k = n
        ch[ring[i >> CHUNK_SHIFT] - 1][o:o + k] = src[soff:soff + k]
        soff += k
        n -= k
        i += k
        if i == size:
            i = 0


def ring_read(ring, size, i, dst, doff, n):
    """Copy ring positions [i, i+n) into buffer dst at doff."""
    ch = _chunks
    while n > 0:
        o = i & (CHUNK - 1)
        k = CHUNK - o
        if k > size - i:
            k = size - i
        if k > n:
            k = n
        dst[doff:doff + k] = memoryview(ch[ring[i >> CHUNK_SHIFT] - 1])[o:o + k]
        doff += k
        n -= k
        i += k
        if i == size:
            i = 0


def ring_put_skb(ring, size, i, skb, poff, n, copy_bits):
    """skb payload (from poff) to ring positions [i, i+n) with skb_copy_bits."""
    ch = _chunks
    while n > 0:
        o = i & (CHUNK - 1)
        k = CHUNK - o
        if k > size - i:
            k = size - i
        if k > n:
            k = n
        copy_bits(skb, poff, ch[ring[i >> CHUNK_SHIFT] - 1], o, k)
        poff += k
        n -= k
        i += k
        if i == size:
            i = 0


def ring_get_skb(ring, size, i, skb, doff, n, store_bits):
    """Ring positions [i, i+n) into the skb's data at doff with skb_store_bits."""
    ch = _chunks
    while n > 0:
        o = i & (CHUNK - 1)
        k = CHUNK - o
        if k > size - i:
            k = size - i
        if k > n:
            k = n
        store_bits(skb, doff, ch[ring[i >> CHUNK_SHIFT] - 1], o, k)
        doff += k
        n -= k
        i += k
        if i == size:
            i = 0


# ---- admission of new connections -------------------------------------------------------
# ksock's own beside Linux's tcp_out_of_memory: a connection's state costs heap
# (Linux's slab has room, a MicroPython heap may not), so a SYN is refused when
# the heap could not hold one more connection's state plus the one chunk each
# way that forced scheduling gives any connection.
SK_STATE_RESERVE = const(4096) if PLATFORM == "linux" else const(1536)


_admit_free = [0]  # SYNs that surely fit before the heap is looked at again


def tcp_may_admit():
    """False when a new connection must be refused: TCP memory over tcp_mem's
    max (tcp_out_of_memory), or no heap left for one more connection.
    gc.mem_free() walks the heap (about 1.3 ms on the unix port's 2 MB), so it
    is read only when the last reading no longer covers the SYNs since."""
    if pages(tcp_memory.allocated) > sysctl.sysctl(tcp_memory.mem)[2]:
        return False
    if not MICROPYTHON:
        return True
    if _admit_free[0] > 0:
        _admit_free[0] -= 1
        return True
    import gc
    need = SK_STATE_RESERVE + 2 * CHUNK
    free = gc.mem_free()
    if free < need:
        gc.collect()  # rare: only when the heap looks full
        free = gc.mem_free()
        if free < need:
            return False
    _admit_free[0] = (free - need) // (4 * SK_STATE_RESERVE)  # each well above one connection's cost
    return True
