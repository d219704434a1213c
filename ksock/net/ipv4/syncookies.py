# net/ipv4/syncookies.c: when the SYN queue is full, the SYN-ACK's sequence
# number carries the connection (a keyed hash of the 4-tuple, a minute counter
# and an MSS index) so no state is kept; the final ACK proves it.
from ksock.compat import const
from ksock.kernel import time as ktime

COOKIEBITS = const(24)
COOKIEMASK = const((1 << 24) - 1)
MAX_SYNCOOKIE_AGE = const(2)
msstab = (536, 1300, 1440, 1460)  # msstab[] of syncookies.c
_M32 = 0xFFFFFFFF
_key = [0x9E3779B9, 0x7F4A7C15]  # replaced at boot by cookie_init()


def cookie_init(seed):
    _key[0] = (seed * 2654435761 + 0x6A09E667) & _M32
    _key[1] = (seed * 40503 + 0xBB67AE85) & _M32


def _mix(h, v):
    # a 32-bit multiply-xorshift round (Linux uses siphash; any keyed mix does)
    h = ((h ^ v) * 0x01000193) & _M32
    return (h ^ (h >> 15)) & _M32


def cookie_hash(saddr, daddr, sport, dport, count, c):
    h = _key[c]
    h = _mix(h, (saddr[0] << 24) | (saddr[1] << 16) | (saddr[2] << 8) | saddr[3])
    h = _mix(h, (daddr[0] << 24) | (daddr[1] << 16) | (daddr[2] << 8) | daddr[3])
    h = _mix(h, (sport << 16) | dport)
    return _mix(h, count)


def tcp_cookie_time():
    return (ktime.clock.now_ms() // 60000) & _M32


def secure_tcp_syn_cookie(saddr, daddr, sport, dport, sseq, data):
    count = tcp_cookie_time()
    return (cookie_hash(saddr, daddr, sport, dport, 0, 0) + sseq + (count << COOKIEBITS)
            + ((cookie_hash(saddr, daddr, sport, dport, count, 1) + data) & COOKIEMASK)) & _M32


def check_tcp_syn_cookie(cookie, saddr, daddr, sport, dport, sseq):
    """The data (MSS index) the cookie carries, or -1 if forged or too old."""
    count = tcp_cookie_time()
    cookie = (cookie - cookie_hash(saddr, daddr, sport, dport, 0, 0) - sseq) & _M32
    diff = (count - (cookie >> COOKIEBITS)) & (_M32 >> COOKIEBITS)
    if diff >= MAX_SYNCOOKIE_AGE:
        return -1
    return (cookie - cookie_hash(saddr, daddr, sport, dport, (count - diff) & _M32, 1)) & COOKIEMASK


def cookie_v4_init_sequence(saddr, daddr, sport, dport, seq, mss):
    """(isn, mss actually encoded): the largest table MSS not above the peer's."""
    i = len(msstab) - 1
    while i and mss < msstab[i]:
        i -= 1
    return secure_tcp_syn_cookie(saddr, daddr, sport, dport, seq & _M32, i), msstab[i]


def cookie_v4_check(saddr, daddr, sport, dport, seq, ack):
    """The MSS of a valid cookie ACK (seq/ack as on the wire), or 0."""
    i = check_tcp_syn_cookie((ack - 1) & _M32, saddr, daddr, sport, dport, (seq - 1) & _M32)
    return msstab[i] if 0 <= i < len(msstab) else 0


def tcp_synq_overflow(sk):
    """A cookie went out: cookie ACKs are looked for (include/net/tcp.h)."""
    sk.rx_syncookie_ts = ktime.clock.now_ms()


def tcp_synq_no_recent_overflow(sk):
    """No cookie sent for 2 minutes (a cookie's life): an ACK is no cookie."""
    ts = getattr(sk, "rx_syncookie_ts", None)
    return ts is None or ktime.clock.diff(ktime.clock.now_ms(), ts) > 120000
