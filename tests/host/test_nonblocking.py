"""Ordinary non-blocking programs and a stack served in the background (issue
14, parts 2 and 3). Each server program runs twice with the same Linux client
in the peer namespace: on ksock (through `micropython -m ksock.run`, or the
launcher's bring_up/install on the board) and, as the reference, under CPython
on the Linux kernel in the target namespace. Both must give the same outcome.

- a busy loop over non-blocking accept/recv/send that catches EAGAIN, with
  no select and no sleep, echoes 1 MiB (ksock used to livelock: no frames came
  in unless the program blocked or slept);
- a non-blocking accept loop serves 200 connections;
- while the program sleeps 5 s and while it computes 2 s with no socket call,
  ping is answered, an established connection keeps ACKing what the peer
  sends, and new connections complete their handshake into the accept backlog.
"""
import fcntl
import os
import re
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod")
BOTH = pytest.mark.parametrize("kernel", ["linux", "ksock"])


@pytest.fixture
def veth(netns_ok):
    require_env(*netns_ok)
    lk = netns.Link()
    yield lk
    lk.delete()


def _start(lk, kernel, target_name, tmp_path, src, *args):
    """The program on ksock (the launcher, default heap) or on Linux (CPython
    in the target namespace, the veth end given the same address)."""
    prog = tmp_path / "prog.py"
    prog.write_text(src)
    if kernel == "linux":
        lk.tgt.run("ip", "addr", "add", "%s/%d" % (lk.tgt_ip, lk.prefix), "dev", lk.tgt_if)
        cmd = [sys.executable, str(prog)]
    else:
        cmd = [os.path.join(BUILD, target_name, "micropython"), "-m", "ksock.run", "--iface", lk.tgt_if,
               "--addr", "%s/%d" % (lk.tgt_ip, lk.prefix), "--gw", lk.peer_ip, str(prog)]
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", ".frozen")
    return subprocess.Popen(["ip", "netns", "exec", lk.tgt.name] + cmd + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(tmp_path))


def _connect(lk, port, timeout=30):
    deadline = time.monotonic() + 30
    while True:
        with lk.peer.entered():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((lk.tgt_ip, port))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ---- 1. a busy loop over non-blocking calls, no select, no sleep ----------------------

NB_ECHO = """
import sys, socket, errno
port, total = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
ls.listen(4)
ls.setblocking(False)
eagain = 0
while True:
    try:
        c, a = ls.accept()
        break
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise
        eagain += 1
c.setblocking(False)
buf = bytearray(4096)
mv = memoryview(buf)
got = sent = pend = off = 0
while sent < total:
    if not pend:
        try:
            n = c.recv_into(buf)
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
            eagain += 1
            continue
        if not n:
            break
        got += n
        pend, off = n, 0
    try:
        k = c.send(mv[off:off + pend])
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise
        eagain += 1
        continue
    off += k
    pend -= k
    sent += k
c.close()
ls.close()
print("echoed", got, sent, "eagain>0", eagain > 0)
"""


@BOTH
def test_nonblocking_busy_loop_echo_1mib_without_select(veth, kernel, target_name, tmp_path):
    lk = veth
    n = 1 << 20
    p = _start(lk, kernel, target_name, tmp_path, NB_ECHO, 7000, n)
    data = os.urandom(n)
    c = _connect(lk, 7000)
    t0 = time.monotonic()
    th = threading.Thread(target=c.sendall, args=(data,))
    th.start()
    got = bytearray()
    try:
        while len(got) < n:
            b = c.recv(65536)
            if not b:
                break
            got += b
    finally:
        th.join(60)
        c.close()
    dt = time.monotonic() - t0
    out, err = p.communicate(timeout=60)
    print("%s: 1 MiB echoed in %.2f s" % (kernel, dt))
    assert p.returncode == 0, err
    assert out.split() == ["echoed", str(n), str(n), "eagain>0", "True"]
    assert len(got) == n and got == data


# ---- 2. a non-blocking accept loop ------------------------------------------------------

NB_ACCEPT = """
import sys, socket, errno
port, n = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
ls.listen(16)
ls.setblocking(False)
served = 0
while served < n:
    try:
        c, a = ls.accept()
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise
        continue
    c.setblocking(False)
    req = b""
    while not req.endswith(b"\\n"):
        try:
            d = c.recv(64)
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
            continue
        if not d:
            break
        req += d
    out = b"ok " + req
    while out:
        try:
            out = out[c.send(out):]
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
    c.close()
    served += 1
ls.close()
print("served", served)
"""


@BOTH
def test_nonblocking_accept_loop_serves_200_connections(veth, kernel, target_name, tmp_path):
    lk = veth
    n, workers = 200, 4
    p = _start(lk, kernel, target_name, tmp_path, NB_ACCEPT, 7001, n)
    bad = []

    def client(w):
        for i in range(w, n, workers):
            try:
                s = _connect(lk, 7001, timeout=20)
                s.sendall(b"%d\n" % i)
                r = b""
                while True:
                    d = s.recv(64)
                    if not d:
                        break
                    r += d
                s.close()
                if r != b"ok %d\n" % i:
                    bad.append((i, r))
            except OSError as e:
                bad.append((i, repr(e)))
    ths = [threading.Thread(target=client, args=(w,)) for w in range(workers)]
    t0 = time.monotonic()
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    dt = time.monotonic() - t0
    out, err = p.communicate(timeout=60)
    print("%s: %d connections in %.2f s" % (kernel, n, dt))
    assert p.returncode == 0, err
    assert bad == []
    assert out.split() == ["served", str(n)]


# ---- 3. background servicing: sleep and computation ----------------------------------

BACKGROUND = """
import sys, socket, time, errno
port = int(sys.argv[1])
now = getattr(time, "ticks_ms", None) or (lambda: int(time.monotonic() * 1000))
diff = getattr(time, "ticks_diff", None) or (lambda a, b: a - b)
buf = bytearray(2048)  # before the sockets: a board's heap is small
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
ls.listen(8)
c, a = ls.accept()
c.send(b"S")
time.sleep(5)
c.send(b"C")
t0 = now()
x = 0
while diff(now(), t0) < 2000:  # two seconds of work and no socket call
    x = (x * 31 + 7) % 1000003
c.send(b"E")
ls.setblocking(False)
queued = 0
while True:
    try:
        k, a = ls.accept()
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise
        break
    queued += 1
    k.close()
c.setblocking(False)
got = 0
while True:
    try:
        d = c.recv_into(buf)
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise
        break
    if not d:
        break
    got += d
c.close()
ls.close()
print("queued", queued, "got", got)
"""
# twice this fits the receive window even on a board (tcp_rmem 4096), so only
# ACKs can drain the peer's send queue
PHASE_BYTES = 1000


def _outq(s):
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def _ping(lk, count, interval):
    r = subprocess.run(["ip", "netns", "exec", lk.peer.name, "ping", "-c", str(count), "-i", str(interval),
                        "-W", "1", lk.tgt_ip], capture_output=True, text=True, timeout=30)
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", r.stdout)]


def _phase(lk, c, port, pings, interval, new_conns, marker_end):
    """While the program is in one phase: ping, send PHASE_BYTES on the
    established connection and see them ACKed, complete new handshakes. Each
    check must be done before the program says the phase ended."""
    res = {}
    th = threading.Thread(target=lambda: res.__setitem__("rtt", _ping(lk, pings, interval)))
    th.start()
    c.sendall(b"x" * PHASE_BYTES)
    deadline = time.monotonic() + 0.8
    while _outq(c) and time.monotonic() < deadline:
        time.sleep(0.02)
    res["unacked"] = _outq(c)
    conns = []
    for _ in range(new_conns):
        with lk.peer.entered():
            s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect((lk.tgt_ip, port))
        except OSError as e:
            res.setdefault("connect_errors", []).append(repr(e))
        conns.append(s)
    th.join()
    c.settimeout(0)
    try:
        early = c.recv(1)
    except BlockingIOError:
        early = b""
    c.settimeout(30)
    res["ended_early"] = early == marker_end
    return res, conns


def run_background(lk, port, start_program, conns=(3, 2)):
    """Drive BACKGROUND's phases; returns (sleep phase, compute phase, program
    output). conns: the new connections made in each phase."""
    out = start_program()
    c = _connect(lk, port)
    try:
        assert c.recv(1) == b"S"
        sleep_res, k1 = _phase(lk, c, port, pings=10, interval=0.2, new_conns=conns[0], marker_end=b"C")
        if not sleep_res["ended_early"]:
            assert c.recv(1) == b"C"
        comp_res, k2 = _phase(lk, c, port, pings=5, interval=0.2, new_conns=conns[1], marker_end=b"E")
        if not comp_res["ended_early"]:
            assert c.recv(1) == b"E"
        text = out()
        for s in k1 + k2:
            s.close()
    finally:
        c.close()
    return sleep_res, comp_res, text


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def _check_background(kernel, sleep_res, comp_res, text, max_median_ms=None, conns=(3, 2), min_queued=None):
    for name, r, pings in (("sleep", sleep_res, 10), ("compute", comp_res, 5)):
        print("%s, %s: ping median %s ms over %d replies, unacked %d" % (
            kernel, name, _median(r["rtt"]), len(r["rtt"]), r["unacked"]))
        assert not r["ended_early"], "%s: the phase ended before the checks did" % name
        assert len(r["rtt"]) == pings, (name, r["rtt"])
        assert r["unacked"] == 0, (name, r)
        assert "connect_errors" not in r, (name, r)
        if max_median_ms is not None:
            assert _median(r["rtt"]) <= max_median_ms, (name, r["rtt"])
    print("%s: %s" % (kernel, text.strip()))
    f = text.split()
    assert f[0::2] == ["queued", "got"] and f[3] == str(2 * PHASE_BYTES), text
    assert int(f[1]) == sum(conns) if min_queued is None else sum(conns) >= int(f[1]) >= min_queued, text


@BOTH
def test_background_sleep_and_compute_answer_ping_ack_and_queue_connections(veth, kernel, target_name,
                                                                            tmp_path):
    lk = veth
    p = _start(lk, kernel, target_name, tmp_path, BACKGROUND, 7002)

    def out():
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0, e
        return o
    sleep_res, comp_res, text = run_background(lk, 7002, lambda: out)
    _check_background(kernel, sleep_res, comp_res, text)


QEMU_RUN = """
import sys, gc, ksock.run as R
code = compile(%(src)r, 'prog.py', 'exec')  # first, as a frozen program would be: no compile garbage
gc.collect()                                # between the stack's long-lived objects
R.bring_up(%(iface)r, %(addr)r, %(gw)r)
R.install()
sys.argv[:] = ['prog.py', '%(port)d']
try:
    exec(code, {'__name__': '__main__'})
finally:
    R.tear_down()
"""


@pytest.mark.targets("qemu", "unix")
def test_background_on_board_sleep_and_compute_answer_ping_ack_and_queue_connections(netns_target):
    """The same program on the target as the launcher runs it on a board (on
    QEMU: the LAN9118, the SysTick tick of firmware/cmodules/kskb/ktick.c)."""
    t, lk = netns_target
    iface = "eth0" if t.platform == "qemu" else lk.tgt_if
    code = QEMU_RUN % {"iface": iface, "addr": "%s/%d" % (lk.tgt_ip, lk.prefix), "gw": lk.peer_ip,
                       "port": 7003, "src": BACKGROUND}
    box = {}

    def run():
        try:
            box["out"] = t.exec_capture(code, timeout=60)
        except BaseException as e:  # noqa: B902 -- handed to the test thread
            box["e"] = e
    th = threading.Thread(target=run)

    def start():
        th.start()

        def out():
            th.join(60)
            if "e" in box:
                raise box["e"]
            o, e = box["out"]
            assert not e, o + e
            return o
        return out
    # The board: about 43 KB of heap is free once ksock is up, in pieces. Every
    # handshake must complete in the background (the peer's connect succeeds),
    # but a child's two 2 KB rings often find no contiguous room (max free block
    # about 1.3 KB, seen with micropython.mem_info): the final ACK is then
    # dropped with ListenDrops, as Linux does when it cannot make the child.
    # That is the board-heap issue; here at least one child must be queued.
    board = t.platform == "qemu"
    conns = (1, 1) if board else (3, 2)
    sleep_res, comp_res, text = run_background(lk, 7003, start, conns)
    _check_background(t.platform, sleep_res, comp_res, text, max_median_ms=20 if board else None,
                      conns=conns, min_queued=1 if board else None)
