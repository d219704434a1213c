# DNS messages (RFC 1035 section 4): a 12-byte header, the question, resource
# records with name compression. Stateless; every read is bounds-checked and a
# malformed message gives None, never an exception.
from struct import pack_into, unpack_from
from ksock.compat import const

HLEN = const(12)
QR = const(0x8000)
TC = const(0x0200)
RD = const(0x0100)
T_A = const(1)
T_CNAME = const(5)
C_IN = const(1)
NOERROR = const(0)
SERVFAIL = const(2)
NXDOMAIN = const(3)
_MAXPTR = const(16)  # compression pointers followed per name (loops end here)


def encode_name(name):
    """b'\\x07example\\x03lan\\x00' from 'example.lan' (None if a label is bad)."""
    out = bytearray()
    for label in name.rstrip(".").split("."):
        b = label.encode()
        if not 0 < len(b) < 64:
            return None
        out.append(len(b))
        out += b
    out.append(0)
    return bytes(out) if len(out) <= 255 else None


def emit_query(buf, qid, qname_wire, qtype=T_A):
    """A recursive query into buf; returns its length."""
    pack_into(">HHHHHH", buf, 0, qid, RD, 1, 0, 0, 0)
    n = len(qname_wire)
    buf[HLEN:HLEN + n] = qname_wire
    pack_into(">HH", buf, HLEN + n, qtype, C_IN)
    return HLEN + n + 4


def read_name(buf, off, n):
    """(lower-case dotted name, offset after it in the message) or None."""
    labels = []
    end = -1
    hops = 0
    total = 0
    while True:
        if off >= n:
            return None
        ln = buf[off]
        if ln & 0xC0 == 0xC0:
            if off + 1 >= n or hops >= _MAXPTR:
                return None
            if end < 0:
                end = off + 2
            off = ((ln & 0x3F) << 8) | buf[off + 1]
            hops += 1
            continue
        if ln & 0xC0:
            return None  # 0x40/0x80 label types: not in use
        if ln == 0:
            break
        if off + 1 + ln > n:
            return None
        total += ln + 1
        if total > 255:
            return None
        try:
            labels.append(bytes(buf[off + 1:off + 1 + ln]).decode().lower())
        except UnicodeError:
            return None
        off += 1 + ln
    return ".".join(labels), (end if end >= 0 else off + 1)


def parse(buf, n):
    """(id, flags, question (name, type, class) or None, [(name, type, ttl, rdata)])
    or None when malformed. CNAME rdata comes back as the target name."""
    if n < HLEN:
        return None
    qid, flags, qd, an, _, _ = unpack_from(">HHHHHH", buf, 0)
    off = HLEN
    q = None
    for _ in range(qd):
        r = read_name(buf, off, n)
        if r is None or r[1] + 4 > n:
            return None
        qt, qc = unpack_from(">HH", buf, r[1])
        if q is None:
            q = (r[0], qt, qc)
        off = r[1] + 4
    rrs = []
    for _ in range(an):
        r = read_name(buf, off, n)
        if r is None or r[1] + 10 > n:
            return None
        t, c, ttl, rdlen = unpack_from(">HHIH", buf, r[1])
        off = r[1] + 10
        if off + rdlen > n:
            return None
        if c == C_IN and t == T_A:
            if rdlen != 4:
                return None
            rrs.append((r[0], t, ttl & 0x7FFFFFFF, bytes(buf[off:off + 4])))
        elif c == C_IN and t == T_CNAME:
            tn = read_name(buf, off, off + rdlen if off + rdlen <= n else n)
            if tn is None:
                tn = read_name(buf, off, n)  # a compressed target pointing before its RR
            if tn is None:
                return None
            rrs.append((r[0], t, ttl & 0x7FFFFFFF, tn[0]))
        off += rdlen
    return qid, flags, q, rrs
