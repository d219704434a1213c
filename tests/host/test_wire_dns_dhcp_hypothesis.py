# The stateless DNS and DHCP parsers (ksock/wire/dns.py, ksock/wire/dhcp.py) on
# CPython, with hypothesis: random bytes and random mutations of valid messages
# give None or a well-formed result, never an exception; valid messages parse
# back to what was encoded.
import struct

from hypothesis import given, settings, strategies as st

from ksock.wire import dhcp as D
from ksock.wire import dns as N


def _dns_answer(qid, name, ips, cname=None):
    q = N.encode_name(name)
    rrs = b""
    n = 0
    if cname:
        rrs += b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 30, len(N.encode_name(cname))) + N.encode_name(cname)
        n += 1
    for ip in ips:
        rrs += (N.encode_name(cname) if cname else b"\xc0\x0c") + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(ip)
        n += 1
    return struct.pack(">HHHHHH", qid, 0x8180, 1, n, 0, 0) + q + b"\x00\x01\x00\x01" + rrs


label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
name = st.lists(label, min_size=1, max_size=4).map(".".join)
ip = st.binary(min_size=4, max_size=4)


@given(st.integers(0, 0xFFFF), name, st.lists(ip, max_size=4), st.one_of(st.none(), name))
def test_dns_valid_answer_parses_back(qid, qname, ips, cname):
    m = _dns_answer(qid, qname, ips, cname)
    p = N.parse(m, len(m))
    assert p is not None
    assert p[0] == qid and p[2] == (qname, 1, 1)
    assert [r[3] for r in p[3] if r[1] == 1] == ips
    if cname:
        assert p[3][0] == (qname, 5, 30, cname)


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_dns_random_bytes_none_or_parsed(b):
    p = N.parse(b, len(b))
    assert p is None or (isinstance(p[3], list) and all(len(r) == 4 for r in p[3]))


@settings(max_examples=500)
@given(name, st.lists(ip, max_size=3), st.one_of(st.none(), name), st.data())
def test_dns_mutated_answer_never_raises(qname, ips, cname, data):
    m = bytearray(_dns_answer(0x1234, qname, ips, cname))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(m) - 1))
        m[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(m)))
    N.parse(m, cut)  # None or a result: no exception, no endless pointer loop


def _dhcp_offer(xid, mac, yiaddr, opts):
    b = bytearray(400)
    o = D.emit_into(b, D.BOOTREPLY, xid, 0, bytes(4), mac)
    b[16:20] = yiaddr
    for code, val in opts:
        o = D.opt_into(b, o, code, val)
    b[o] = D.OPT_END
    return b, o + 1


@given(st.integers(0, 0xFFFFFFFF), st.binary(min_size=6, max_size=6), ip,
       st.lists(st.tuples(st.integers(1, 254), st.binary(max_size=20)), max_size=8))
def test_dhcp_valid_message_parses_back(xid, mac, yiaddr, opts):
    b, n = _dhcp_offer(xid, mac, yiaddr, [(53, b"\x02")] + opts)
    p = D.parse(b, n)
    assert p is not None and p[1] == xid and p[3] == yiaddr and p[4] == mac
    assert p[5][53][:1] == b"\x02"


@settings(max_examples=500)
@given(st.binary(max_size=700), st.data())
def test_dhcp_random_and_mutated_never_raise(junk, data):
    D.parse(junk, len(junk))
    b, n = _dhcp_offer(7, b"\x02" * 6, b"\x0a\x00\x00\x05", [(53, b"\x02"), (52, b"\x03"), (1, b"\xff\xff\xff\x00")])
    for _ in range(data.draw(st.integers(1, 8))):
        b[data.draw(st.integers(0, len(b) - 1))] = data.draw(st.integers(0, 255))
    D.parse(b, data.draw(st.integers(0, len(b))))
