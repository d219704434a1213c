"""UDP differential: one sequence of socket calls run by side A with the Linux
kernel as side B, A once a CPython socket on Linux (two kernels over a veth),
once ksock (ksock.sys on the target). Values, errno, addresses and MSG_TRUNC
flags must match. Addresses are written as roles ('A', 'B', 'BCAST') and
ephemeral ports as 'EPH', the only things that may differ."""
import socket
import struct
import time

import pytest

from hil import netns
from hil.plugin import require_env
from netstack import bring_up, serve_while

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu")

AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_BROADCAST, SO_RCVBUF, SO_RCVTIMEO = 2, 2, 1, 6, 8, 20
MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT = 0x2, 0x20, 0x40
TV = struct.pack("<qq", 1, 0)  # SO_RCVTIMEO 1 s

# (who, op, args): who "A" is the side under test, "B" the Linux peer, "settle"
# lets ICMP come back. Args name sockets ("a1") and addresses by role.
SEQ = [
    ("A", "socket", ("a1", AF_INET, SOCK_DGRAM, 0)),
    ("A", "setsockopt", ("a1", SOL_SOCKET, SO_RCVTIMEO, TV)),
    # the same SO_RCVBUF on both sides (a board's rmem_default holds one datagram)
    ("A", "setsockopt", ("a1", SOL_SOCKET, SO_RCVBUF, 8192)),
    ("A", "bind", ("a1", ("0.0.0.0", 5001))),
    ("A", "bind", ("a1", ("0.0.0.0", 5002))),  # EINVAL: already bound
    ("A", "sendto", ("a1", b"warm-up", 0, ("B", 6001))),  # both sides learn the MACs (ARP)
    ("B", "recvfrom", ()),
    ("B", "sendto", (b"", ("A", 5001))),
    ("B", "sendto", (b"x", ("A", 5001))),
    ("B", "sendto", (bytes(range(256)) * 5 + bytes(192), ("A", 5001))),
    ("A", "recvfrom", ("a1", 2048, 0)),
    ("A", "recvfrom", ("a1", 2048, 0)),
    ("A", "recvfrom", ("a1", 2048, 0)),
    ("B", "sendto", (b"abcdefghij", ("A", 5001))),
    ("A", "recvfrom", ("a1", 4, MSG_PEEK)),
    ("A", "recvmsg_into", ("a1", 3, MSG_TRUNC)),
    ("A", "recvfrom", ("a1", 10, MSG_DONTWAIT)),  # EAGAIN
    ("B", "sendto", (b"truncated!", ("A", 5001))),
    ("A", "recvmsg_into", ("a1", 4, 0)),  # MSG_TRUNC in msg_flags, 4 copied
    ("A", "recvfrom", ("a1", 100, 0)),  # EAGAIN after SO_RCVTIMEO: the rest was dropped
    ("A", "sendto", ("a1", b"hello", 0, ("B", 6001))),
    ("B", "recvfrom", ()),
    ("A", "socket", ("a2", AF_INET, SOCK_DGRAM, 0)),
    ("A", "setsockopt", ("a2", SOL_SOCKET, SO_RCVTIMEO, TV)),
    ("A", "send", ("a2", b"nodest", 0)),  # EDESTADDRREQ
    ("A", "getpeername", ("a2",)),  # ENOTCONN
    ("A", "connect", ("a2", ("B", 6001))),
    ("A", "getpeername", ("a2",)),
    ("A", "send", ("a2", b"conn", 0)),
    ("B", "recvfrom", ()),
    ("B", "reply", (b"from peer",)),
    ("A", "recvfrom", ("a2", 100, 0)),
    ("B2", "sendto_last", (b"stranger",)),  # another port: a connected socket filters it
    ("A", "recvfrom", ("a2", 100, MSG_DONTWAIT)),
    ("A", "socket", ("a3", AF_INET, SOCK_DGRAM, 0)),
    ("A", "connect", ("a3", ("B", 9))),  # nobody listens on B:9
    ("A", "send", ("a3", b"refused?", 0)),
    ("settle", "", ()),
    ("A", "send", ("a3", b"again", 0)),  # ECONNREFUSED, reported once
    ("A", "send", ("a3", b"third", 0)),
    ("A", "sendto", ("a1", b"unconnected", 0, ("B", 9))),
    ("settle", "", ()),
    ("A", "sendto", ("a1", b"never told", 0, ("B", 9))),
    ("A", "sendto", ("a1", b"bcast", 0, ("BCAST", 6002))),  # EACCES without SO_BROADCAST
    ("A", "setsockopt", ("a1", SOL_SOCKET, SO_BROADCAST, 1)),
    ("A", "sendto", ("a1", b"bcast", 0, ("BCAST", 6002))),
    ("BB", "recvfrom", ()),
    ("A", "close", ("a2",)),
    ("A", "send", ("a2", b"closed", 0)),  # EBADF
]

# Many datagrams in a row on a socket of their own with room for them on both
# sides (Linux charges ~768 bytes per small datagram, ksock 1856; a board's skb
# pool holds 24, so the board gets a shorter burst): all arrive, in order.
BURST = 50
BURST_BOARD = 12
SEQ[-2:-2] = [
    ("A", "socket", ("a4", AF_INET, SOCK_DGRAM, 0)),
    ("A", "setsockopt", ("a4", SOL_SOCKET, SO_RCVBUF, 65536)),
    ("A", "setsockopt", ("a4", SOL_SOCKET, SO_RCVTIMEO, TV)),
    ("A", "bind", ("a4", ("0.0.0.0", 5004))),
    ("A", "sendto", ("a4", b"warm-up", 0, ("B", 6001))),  # fresh ARP entries before the burst
    ("B", "recvfrom", ()),
    ("B", "burst", (BURST, ("A", 5004))),
    ("A", "recv_n", ("a4", BURST)),
]

KSOCK_HELPER = r"""
import ksock.sys as ks
_s = {}
def _norm(v):
    if isinstance(v, (bytes, bytearray)):
        return ('bytes', len(v), bytes(v[:12]), sum(v) & 0xFFFF)
    if isinstance(v, tuple):
        return tuple(_norm(x) for x in v)
    return v
def _op(name, args):
    try:
        if name == 'socket':
            _s[args[0]] = ks.socket(*args[1:]); return ('ok', 0)
        if name == 'recvmsg_into':
            n, fl, a = ks.recvmsg_into(_s[args[0]], [bytearray(args[1])], args[2])
            return ('ok', (n, fl & 0x20, a))
        if name == 'recv_n':
            got = []
            try:
                for i in range(args[1]):
                    got.append(ks.recv(_s[args[0]], 2048)[:4])
            except OSError as e:
                got.append(e.args[0])
            return ('ok', len(got), [int.from_bytes(g, 'big') if isinstance(g, bytes) else -g for g in got])
        return ('ok', _norm(getattr(ks, name)(_s[args[0]], *args[1:])))
    except OSError as e:
        return ('err', e.args[0])
"""


def _norm(v):
    if isinstance(v, (bytes, bytearray)):
        return ("bytes", len(v), bytes(v[:12]), sum(v) & 0xFFFF)
    if isinstance(v, (tuple, list)):
        return tuple(_norm(x) for x in v)
    return v


class LinuxA:
    """Side A as CPython sockets in a namespace of their own (a Linux host)."""

    def __init__(self, ns):
        self.ns = ns
        self.s = {}

    def during(self, action):
        return action()  # a kernel runs by itself

    def op(self, name, args):
        try:
            if name == "socket":
                with self.ns.entered():
                    self.s[args[0]] = socket.socket(*args[1:])
                return ("ok", 0)
            s = self.s[args[0]]
            if name == "recvmsg_into":
                n, _, fl, a = s.recvmsg_into([bytearray(args[1])], 0, args[2])
                return ("ok", (n, fl & MSG_TRUNC, a))
            if name == "recv_n":
                got = []
                try:
                    for _ in range(args[1]):
                        got.append(s.recv(2048)[:4])
                except OSError as e:
                    got.append(e.errno)
                return ("ok", len(got), [int.from_bytes(g, "big") if isinstance(g, bytes) else -g for g in got])
            if name == "close":
                s.close()
                self.s[args[0]] = _Closed()
                return ("ok", 0)
            if name in ("sendto", "recvfrom", "send"):
                if name == "sendto":
                    r = s.sendto(args[1], args[2], args[3])
                elif name == "send":
                    r = s.send(args[1], args[2])
                else:
                    r = s.recvfrom(args[1], args[2])
                return ("ok", _norm(r))
            r = getattr(s, name)(*args[1:])
            return ("ok", 0 if r is None else _norm(r))  # ksock.sys answers 0 where CPython says None
        except OSError as e:
            return ("err", e.errno)


class _Closed:
    """A closed CPython socket: its calls fail as send(2) on a closed fd does."""

    def send(self, *a):
        raise OSError(9, "EBADF")


class KsockA:
    def __init__(self, t):
        self.t = t
        t.exec(KSOCK_HELPER)
        # Linux's net.core.rmem_max (a board's default is smaller), so that
        # SO_RCVBUF means the same on both sides
        t.exec("ks.sysctl('net.core.rmem_max', 212992)")

    def during(self, action):
        """ksock runs when its program is in a call: B's actions happen while
        the target serves (ARP, ICMP, queued frames), as a kernel would."""
        return serve_while(self.t, 250, action)

    def op(self, name, args):
        return self.t.eval("_op(%r, %r)" % (name, args), timeout=30)


def _addr(a, roles):
    return (roles.get(a[0], a[0]), a[1])


def run_sequence(side, roles, peer_ns, settle, burst=BURST):
    """Run SEQ with `side` as A (bursts of `burst`); returns the normalised transcript."""
    with peer_ns.entered():
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        bb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bb.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    b.bind((roles["B"], 6001))
    b2.bind((roles["B"], 6003))
    bb.bind(("0.0.0.0", 6002))
    for s in (b, b2, bb):
        s.settimeout(3)
    back = {v: k for k, v in roles.items()}
    last = [None]

    def unrole(v):
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int):
            return (back.get(v[0], v[0]), "EPH" if v[1] >= 32768 else v[1])
        if isinstance(v, tuple):
            return tuple(unrole(x) for x in v)
        return v

    def peer(who, op, args):
        return _peer_op(b, b2, bb, roles, last, who, op, args)

    out = []
    try:
        for who, op, args in SEQ:
            if op in ("burst", "recv_n"):
                args = (burst,) + args[1:] if op == "burst" else (args[0], burst)
            if who == "settle":
                settle()
                continue
            if who == "A":
                a = tuple(_addr(x, roles) if isinstance(x, tuple) else x for x in args)
                r = side.op(op, a)
            else:
                r = side.during(lambda: peer(who, op, args))
            out.append((who, op, unrole(r)))
    finally:
        for s in (b, b2, bb):
            s.close()
    return out


def _peer_op(b, b2, bb, roles, last, who, op, args):
    """One action of the Linux peer: B (port 6001), B2 (6003), BB (broadcast 6002)."""
    if op == "sendto":
        return b.sendto(args[0], _addr(args[1], roles))
    if op == "recvfrom":
        try:
            d, a = (bb if who == "BB" else b).recvfrom(2048)
        except socket.timeout:
            return "timeout"
        last[0] = a
        return (_norm(d), a)
    if op == "reply":
        return b.sendto(args[0], last[0])
    if op == "sendto_last":
        return b2.sendto(args[0], last[0])
    assert op == "burst"
    for i in range(args[0]):
        b.sendto(i.to_bytes(4, "big") * 10, _addr(args[1], roles))
        time.sleep(0.001)
    return args[0]


@pytest.fixture
def linux_pair(netns_ok):
    """Two Linux hosts over a veth: the Link's target end gets a kernel address."""
    require_env(*netns_ok)
    lk = netns.Link()
    lk.tgt.run("ip", "addr", "add", "%s/%d" % (lk.tgt_ip, lk.prefix), "dev", lk.tgt_if)
    yield lk
    lk.delete()


def _roles(lk):
    return {"A": lk.tgt_ip, "B": lk.peer_ip, "BCAST": lk.subnet + ".255"}


def test_udp_sequence_ksock_matches_linux(netns_target, linux_pair):
    lp = linux_pair
    t, lk = netns_target
    n = BURST_BOARD if t.platform == "qemu" else BURST
    want = run_sequence(LinuxA(lp.tgt), _roles(lp), lp.peer, lambda: time.sleep(0.3), n)
    bring_up(t, lk)
    got = run_sequence(KsockA(t), _roles(lk), lk.peer, lambda: t.exec("stack.serve(300)"), n)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, "step %d %s: ksock %r, Linux %r" % (i, SEQ[[j for j, s in enumerate(SEQ)
                                                                    if s[0] != "settle"][i]], g, w)
    # the transcript is not trivially empty: errors and data both appear
    errs = {r[2][1] for r in want if isinstance(r[2], tuple) and r[2] and r[2][0] == "err"}
    assert {11, 22, 89, 107, 111, 13, 9} <= errs, errs
