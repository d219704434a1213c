# TCP header and options (RFC 9293 3.1, RFC 7323 window scale). Stateless:
# parse/emit only; the checksum is the caller's (it needs the pseudo-header).
from struct import pack_into
from ksock.compat import const

TCP_HLEN = const(20)
FIN = const(0x01)
SYN = const(0x02)
RST = const(0x04)
PSH = const(0x08)
ACK = const(0x10)
URG = const(0x20)

TCPOPT_EOL = const(0)
TCPOPT_NOP = const(1)
TCPOPT_MSS = const(2)
TCPOPT_WINDOW = const(3)
TCPOLEN_SYN = const(8)  # MSS (4) + NOP + WS (3): what our SYN and SYN-ACK carry
TCP_MAX_WSCALE = const(14)


def seq(buf, off):
    return (buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]


def ack_seq(buf, off):
    return (buf[off + 8] << 24) | (buf[off + 9] << 16) | (buf[off + 10] << 8) | buf[off + 11]


def unwrap(v, ref):
    """The unbounded sequence number nearest `ref` whose low 32 bits are v: the
    stack keeps sequence space unwrapped so comparisons are plain integers."""
    return ref + ((v - ref + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def doff(buf, off):
    """Header length in bytes."""
    return (buf[off + 12] >> 4) << 2


def parse_syn_opts(buf, off, hlen):
    """(mss, wscale) from a SYN's options: mss 0 when absent, wscale -1 when absent.
    A malformed option list ends the walk (as tcp_parse_options does)."""
    mss = 0
    ws = -1
    i = off + TCP_HLEN
    end = off + hlen
    while i < end:
        kind = buf[i]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            break
        ln = buf[i + 1]
        if ln < 2 or i + ln > end:
            break
        if kind == TCPOPT_MSS and ln == 4:
            mss = (buf[i + 2] << 8) | buf[i + 3]
        elif kind == TCPOPT_WINDOW and ln == 3:
            ws = buf[i + 2] if buf[i + 2] <= TCP_MAX_WSCALE else TCP_MAX_WSCALE
        i += ln
    return mss, ws


def emit_into(buf, off, sport, dport, seqno, ackno, hlen, flags, window):
    """A header of `hlen` bytes (options written by the caller), checksum 0.
    seqno/ackno may be unwrapped (beyond 32 bits): they go out modulo 2**32."""
    pack_into(">HHIIBBHHH", buf, off, sport, dport, seqno & 0xFFFFFFFF, ackno & 0xFFFFFFFF, (hlen >> 2) << 4, flags,
              window, 0, 0)


def emit_syn_opts(buf, off, mss, wscale):
    """MSS, NOP, window scale at off (8 bytes); wscale < 0 leaves it out (NOPs)."""
    buf[off] = TCPOPT_MSS
    buf[off + 1] = 4
    buf[off + 2] = mss >> 8
    buf[off + 3] = mss & 0xFF
    buf[off + 4] = TCPOPT_NOP
    if wscale >= 0:
        buf[off + 5] = TCPOPT_WINDOW
        buf[off + 6] = 3
        buf[off + 7] = wscale
    else:
        buf[off + 5] = buf[off + 6] = buf[off + 7] = TCPOPT_NOP
