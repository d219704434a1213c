# UDP header (RFC 768).
from struct import unpack_from, pack_into
from ksock.compat import const

UDP_HLEN = const(8)


def parse(buf, off):
    """(sport, dport, length, check)"""
    return unpack_from(">HHHH", buf, off)


def emit_into(buf, off, sport, dport, length):
    pack_into(">HHHH", buf, off, sport, dport, length, 0)
