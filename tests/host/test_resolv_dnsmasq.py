"""ksock's stub resolver (ksock/resolv.py) and getaddrinfo (ksock.sys, the drop-in
socket) against dnsmasq in the peer namespace, compared with glibc's getaddrinfo
asking the same dnsmasq; and against a crafted server for truncation (TC, then
TCP), wrong ids, wrong questions, wrong sources and malformed answers."""
import os
import shutil
import socket
import struct
import threading
import time

import pytest

from dnsmasq import Dnsmasq, SKIPCLOCK
from netstack import bring_up, peer

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500")

RECORDS = ["--local=/ks.test/", "--local-ttl=30", "--address=/wild.ks.test/10.1.2.3",
           "--host-record=host.ks.test,10.1.2.4", "--host-record=multi.ks.test,10.1.2.5",
           "--host-record=multi.ks.test,10.1.2.6", "--host-record=v6only.ks.test,fd00::1",
           "--cname=alias.ks.test,host.ks.test", "--cname=alias2.ks.test,alias.ks.test"]
NAMES = ["host.ks.test", "a.wild.ks.test", "multi.ks.test", "alias.ks.test", "alias2.ks.test",
         "HOST.KS.TEST.", "v6only.ks.test", "nope.ks.test", "10.1.2.9", "localhost"]


@pytest.fixture
def dns(netns_target):
    t, lk = netns_target
    d = Dnsmasq(lk, extra=RECORDS)
    try:
        d.start()
        bring_up(t, lk)
        t.exec("stack.dns_servers(%r)\nimport ksock.sys as ks\nfrom ksock import resolv" % lk.peer_ip)
        yield t, lk, d
    finally:
        d.close()


GAI = """
def gai(name, port=80, type=0):
    try:
        return sorted((int(f), int(t), p, a) for f, t, p, _, a in %s.getaddrinfo(name, port, 2, type))
    except OSError as e:
        return e.args[0]
"""


def _glibc(lk, names):
    """What glibc's getaddrinfo gives for `names`, asking the same dnsmasq."""
    etc = "/etc/netns/" + lk.peer.name
    os.makedirs(etc, exist_ok=True)
    try:
        with open(etc + "/resolv.conf", "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:1\n" % lk.peer_ip)
        code = "import socket\n" + GAI % "socket" + "print(repr([gai(n) for n in %r]))" % (names,)
        r = peer(lk, "python3", "-c", code)
        import ast
        return ast.literal_eval(r.stdout.strip())
    finally:
        shutil.rmtree(etc, ignore_errors=True)


def test_getaddrinfo_names_match_glibc(dns):
    t, lk, d = dns
    t.exec(GAI % "ks")
    got = t.eval("[gai(n) for n in %r]" % (NAMES,), timeout=60)
    want = _glibc(lk, NAMES)
    assert got == want
    assert got[0] == [(2, 1, 6, ("10.1.2.4", 80)), (2, 2, 17, ("10.1.2.4", 80)), (2, 3, 0, ("10.1.2.4", 80))]
    assert got[6] == -5 and got[7] == -2  # EAI_NODATA, EAI_NONAME as glibc


def test_getaddrinfo_numeric_and_localhost_send_no_query(dns):
    t, lk, d = dns
    t.exec(GAI % "ks")
    assert t.eval("gai('10.1.2.9', 53, 2)") == [(2, 2, 17, ("10.1.2.9", 53))]
    assert t.eval("gai('localhost', 80, 1)") == [(2, 1, 6, ("127.0.0.1", 80))]
    assert t.eval("resolv.stats.Queries") == 0


def test_dropin_getaddrinfo_name_sockaddr_and_errors(dns):
    t, lk, d = dns
    out = t.exec("""
import ksock.socket as s
r = s.getaddrinfo('alias2.ks.test', 8080, 0, s.SOCK_STREAM)
a = s.sockaddr(r[0][4])
print(r[0][:4], s.inet_ntop(2, a[1]), a[2])
for n in ('nope.ks.test', 'v6only.ks.test'):
    try:
        s.getaddrinfo(n, 80)
    except OSError as e:
        print(repr(e.args[0]))
""")
    lines = out.strip().split("\n")
    assert lines[0] == "(2, 1, 6, None) 10.1.2.4 8080"
    assert lines[1:] == ["'[addrinfo error -2]'", "'[addrinfo error -5]'"]


def test_cache_honours_ttl(dns):
    t, lk, d = dns
    t.exec(SKIPCLOCK)
    assert t.eval("[ks.inet_ntoa(a) for a in resolv.resolve('host.ks.test')]") == ["10.1.2.4"]
    assert t.eval("(resolv.stats.Queries, resolv.stats.CacheHits)") == (1, 0)
    t.eval("resolv.resolve('host.ks.test')")
    assert t.eval("(resolv.stats.Queries, resolv.stats.CacheHits)") == (1, 1)
    t.exec("clk.skip(31000)")  # dnsmasq's --local-ttl=30 has run out
    t.eval("resolv.resolve('host.ks.test')")
    assert t.eval("(resolv.stats.Queries, resolv.stats.CacheHits)") == (2, 1)


def test_no_server_answers_eai_again_then_next_server(dns):
    t, lk, d = dns
    dead = lk.subnet + ".77"  # nobody: ARP for it fails, the query times out
    t.exec("resolv.TIMEOUT_MS = 400; resolv.ATTEMPTS = 1\nstack.dns_servers(%r)" % dead)
    assert t.eval("resolv.resolve('host.ks.test')") == -3  # EAI_AGAIN
    t.exec("stack.dns_servers(%r, %r)" % (dead, lk.peer_ip))
    assert t.eval("[ks.inet_ntoa(a) for a in resolv.resolve('host.ks.test')]") == ["10.1.2.4"]
    assert t.eval("resolv.stats.Timeouts") == 2


# ---- a crafted server on a second peer address --------------------------------------

def _answer(q, qid=None, flags=0x8180, qname=None, rrs=b"", ancount=None):
    qid = struct.unpack(">H", q[:2])[0] if qid is None else qid
    i = 12
    while q[i]:
        i += q[i] + 1
    question = q[12:i + 5] if qname is None else qname + q[i + 1:i + 5]
    n = ancount if ancount is not None else (1 if rrs else 0)
    return struct.pack(">HHHHHH", qid, flags, 1, n, 0, 0) + question + rrs


def _a_rr(ip, ttl=60):
    return b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, ttl, 4) + socket.inet_aton(ip)


class Crafted:
    """UDP and TCP on ADDR:53; `behave(name, query, udp_sock, client)` answers."""

    def __init__(self, lk, addr):
        peer(lk, "ip", "addr", "add", addr + "/24", "dev", lk.peer_if)
        with lk.peer.entered():
            self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.u.bind((addr, 53))
            self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.other.bind((addr, 5353))
            self.t = socket.socket()
            self.t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.t.bind((addr, 53))
            self.t.listen()
        self.u.settimeout(0.2)
        self.t.settimeout(0.2)
        self.stop = False
        self.tcp_queries = 0
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.stop:
            try:
                q, cl = self.u.recvfrom(2048)
                name = _qname(q)
                if name.startswith("tc."):
                    self.u.sendto(_answer(q, flags=0x8380), cl)  # TC: ask again over TCP
                elif name.startswith("wrongid."):
                    qid = struct.unpack(">H", q[:2])[0]
                    self.u.sendto(_answer(q, qid=qid ^ 0x5A5A, rrs=_a_rr("10.6.6.6")), cl)
                    time.sleep(0.03)
                    self.u.sendto(_answer(q, qname=_wire("x.ks.test"),
                                          rrs=_a_rr("10.6.6.7")), cl)
                    time.sleep(0.03)
                    self.other.sendto(_answer(q, rrs=_a_rr("10.6.6.8")), cl)  # from another port
                    time.sleep(0.03)
                    self.u.sendto(_answer(q, rrs=_a_rr("10.7.7.7")), cl)
                elif name.startswith("malformed."):
                    for bad in _malformed(q):
                        self.u.sendto(bad, cl)
                        time.sleep(0.03)  # one at a time: a board's socket holds only a few
                else:
                    self.u.sendto(_answer(q, rrs=_a_rr("10.8.8.8")), cl)
            except socket.timeout:
                pass
            try:
                c, _ = self.t.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(2)
                ln = struct.unpack(">H", _recvn(c, 2))[0]
                q = _recvn(c, ln)
                self.tcp_queries += 1
                a = _answer(q, rrs=_a_rr("10.9.9.9"))
                c.sendall(struct.pack(">H", len(a)) + a)

    def close(self):
        self.stop = True
        self.th.join()
        for s in (self.u, self.other, self.t):
            s.close()


def _recvn(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise OSError("eof")
        b += x
    return b


def _wire(name):
    return b"".join(bytes((len(p),)) + p.encode() for p in name.split(".")) + b"\x00"


def _qname(q):
    i, out = 12, []
    while q[i]:
        out.append(q[i + 1:i + 1 + q[i]].decode())
        i += q[i] + 1
    return ".".join(out).lower()


def _malformed(q):
    qid = q[:2]
    good = _answer(q, rrs=_a_rr("10.5.5.5"))
    yield qid + b"\x81"  # shorter than a header
    yield good[:-3]  # the A record cut short
    yield _answer(q, rrs=b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 200) + b"\x01\x02\x03\x04")  # rdlength past end
    yield _answer(q, rrs=b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 3) + b"\x01\x02\x03")  # A of 3 bytes
    yield good[:12] + b"\xc0\x0c" + good[12 + len(_wire(_qname(q))):]  # question is a pointer to itself
    yield _answer(q, rrs=b"\xff\xff" + struct.pack(">HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04")  # pointer past end
    yield _answer(q, ancount=5, rrs=_a_rr("10.5.5.6"))  # more answers announced than sent
    yield _answer(q, rrs=b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, 2) + b"\xc0\xff")  # CNAME to nowhere


@pytest.fixture
def crafted(netns_target):
    t, lk = netns_target
    addr = lk.subnet + ".53"
    srv = Crafted(lk, addr)
    try:
        bring_up(t, lk)
        t.exec("stack.dns_servers(%r)\nimport ksock.sys as ks\nfrom ksock import resolv\n"
               "resolv.TIMEOUT_MS = 1500; resolv.ATTEMPTS = 1" % addr)
        yield t, lk, srv
    finally:
        srv.close()


def _resolve(t, name):
    return t.eval("(lambda r: r if isinstance(r, int) else [ks.inet_ntoa(a) for a in r])(resolv.resolve(%r))"
                  % name, timeout=30)


def _unread(t):
    """Answers the resolver looked at and ignored, plus those its socket had no
    room for (Udp RcvbufErrors: a loaded machine may run the resolver late, and
    its SO_RCVBUF holds only a few): each stray answer is one or the other."""
    return t.eval("resolv.stats.Ignored + __import__('ksock.net.ipv4.proc').net.ipv4.proc.udp.RcvbufErrors")


def test_truncated_answer_retried_over_tcp(crafted):
    t, lk, srv = crafted
    assert _resolve(t, "tc.ks.test") == ["10.9.9.9"]
    assert srv.tcp_queries == 1 and t.eval("resolv.stats.TcpQueries") == 1


def test_wrong_id_question_source_ignored_right_answer_taken(crafted):
    t, lk, srv = crafted
    assert _resolve(t, "wrongid.ks.test") == ["10.7.7.7"]
    assert _unread(t) == 3


def test_malformed_answers_ignored_eai_again_stack_still_works(crafted):
    t, lk, srv = crafted
    assert _resolve(t, "malformed.ks.test") == -3
    assert _unread(t) == 8
    assert _resolve(t, "fine.ks.test") == ["10.8.8.8"]
