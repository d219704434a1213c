"""TCP memory against the Linux kernel: connections from Linux until ksock's
budget (net.ipv4.tcp_mem) refuses one -- a clean refusal, no SYN-ACK, counted
in ListenDrops -- while the existing connections keep working, and heap,
sockstat and the pool back to their baseline once all are closed; and many
concurrent echo connections through the launcher at the unix port's default
heap (no -X heapsize)."""
import os
import socket
import subprocess
import threading
import time

import pytest

from netstack import bring_up
from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "serial")

PORT = 6100
FILL = 1024  # bytes each connection leaves unread: one chunk charged


def _connect(lk, timeout):
    with lk.peer.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((lk.tgt_ip, PORT))
    except OSError as e:
        s.close()
        return None, e
    return s, None


TARGET = """
import gc, sys
import ksock.sys as ks
from ksock.net.core import sk_mem, sysctl
from ksock.net.ipv4 import tcp_ipv4
from ksock.net.ipv4.proc import tcpext as X
BOARD = sys.platform != 'linux'
def sockstat():
    return tcp_ipv4.proc_net_sockstat().split('\\n')[1]
stack.serve(50)
gc.collect()
base = (gc.mem_alloc(), sockstat(), sk_mem.pool_stats())
ls = ks.socket(2, 1 | ks.SOCK_NONBLOCK, 0)
ks.setsockopt(ls, 1, 2, 1)
ks.bind(ls, ('0.0.0.0', %(port)d))
ks.listen(ls, 64)
mem0 = sysctl.sysctl('net.ipv4.tcp_mem')
ks.sysctl('net.ipv4.tcp_mem', (1, 1, 2) if BOARD else (1, 2, 4))
drops0 = X.ListenDrops
conns = []
go = False
while not go:  # accept until the host says 'go' on the first connection
    try:
        conns.append(ks.accept(ls)[0])
    except OSError:
        stack.serve(5)
    go = bool(conns) and ks.ioctl(conns[0], ks.FIONREAD) > %(fill)d
drops = X.ListenDrops - drops0
ks.sysctl('net.ipv4.tcp_mem', mem0)
buf = bytearray(256)
for i, fd in enumerate(conns):  # every connection accepted still works
    got = 0
    while got < %(fill)d:
        got += ks.recvmsg_into(fd, [memoryview(buf)[:min(256, %(fill)d - got)]])[0]
    if not i:
        ks.recv(fd, 2)  # the 'go' after the first connection's filler
    ks.send(fd, b'%%04d' %% i)
for fd in conns:  # the peer closes first: no TIME_WAIT left on ksock's side
    while ks.recvmsg_into(fd, [buf])[0]:
        pass
    ks.close(fd)
ks.close(ls)
stack.serve(300)
gc.collect()
print(len(conns), drops, sk_mem.tcp_memory.allocated)
print(base[0], gc.mem_alloc())
print(base[1])
print(sockstat())
print(base[2])
print(sk_mem.pool_stats())
"""


def test_tcp_linux_connects_until_budget_refuses_existing_work_baseline_after(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    box = {}

    def clients():
        socks = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s, err = _connect(lk, 3)
            if s is None:
                if not socks:  # the listener is not up yet
                    time.sleep(0.1)
                    continue
                box["err"] = err
                break
            s.sendall(b"f" * FILL)  # unread on ksock: a chunk charged to the budget
            socks.append(s)
            time.sleep(0.05)
        box["n"] = len(socks)
        socks[0].sendall(b"go")
        box["echo"] = []
        for s in socks:
            s.settimeout(30)
            got = b""
            while len(got) < 4:
                d = s.recv(4 - len(got))
                if not d:
                    break
                got += d
            box["echo"].append(got)
            s.close()

    th = threading.Thread(target=clients, daemon=True)
    th.start()
    out = t.exec(TARGET % {"port": PORT, "fill": FILL}, timeout=180)
    th.join(60)
    assert not th.is_alive()
    lines = out.strip().split("\n")
    n, drops, allocated = (int(x) for x in lines[0].split())
    # refused cleanly: the peer's connect() saw no SYN-ACK (timeout) or a reset
    assert isinstance(box.get("err"), (socket.timeout, ConnectionRefusedError, ConnectionResetError)), box
    assert n == box["n"] >= 2 and drops >= 1, (n, box, drops)
    assert box["echo"] == [b"%04d" % i for i in range(n)]  # the existing ones kept working
    assert allocated == 0
    h0, h1 = (int(x) for x in lines[1].split())
    # what stays is first-use growth (fd table, hash chains, timer heap), not
    # per-connection memory; objects on the 64-bit unix port are twice a board's
    assert h1 - h0 < (2048 if t.platform != "linux" else 4096), (h0, h1)
    assert lines[2] == lines[3], lines  # sockstat: inuse, orphan, tw, alloc, mem all back
    assert lines[4] == lines[5], lines  # the pool: back to what it kept before


# ---- many concurrent echo connections through the launcher, default heap ---------------

ECHO = """
import sys, socket, select
N = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(socket.getaddrinfo('0.0.0.0', int(sys.argv[1]))[0][-1])
s.listen(N)
p = select.poll()
p.register(s, select.POLLIN)
done = 0
while done < N:
    for obj, ev in p.poll(1000):
        if obj is s:
            c, a = s.accept()
            p.register(c, select.POLLIN)
            continue
        d = obj.recv(16384)
        if d:
            obj.write(d)
        else:
            p.unregister(obj)
            obj.close()
            done += 1
print('served', done)
"""


@pytest.fixture
def veth(netns_ok, target_name):
    require_env(*netns_ok)
    lk = netns.Link()
    yield lk, os.path.join(BUILD, target_name, "micropython")
    lk.delete()


@pytest.mark.targets("unix", "unix-nocmod")
@pytest.mark.parametrize("n", [32, 64])
def test_launcher_default_heap_concurrent_echo_connections_intact(veth, tmp_path, n):
    lk, binary = veth
    prog = tmp_path / "echo.py"
    prog.write_text(ECHO)
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", ".frozen")
    cmd = ["ip", "netns", "exec", lk.tgt.name, binary, "-m", "ksock.run",  # no -X heapsize
           "--iface", lk.tgt_if, "--addr", "%s/%d" % (lk.tgt_ip, lk.prefix), str(prog), "7800", str(n)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=str(tmp_path))
    try:
        socks = []
        deadline = time.monotonic() + 30
        while len(socks) < n:
            s, err = _connect_port(lk, 7800)
            if s is None:
                assert time.monotonic() < deadline, "echo server never came up: %r" % err
                time.sleep(0.1)
                continue
            socks.append(s)
        data = [bytes((i + j) & 0xFF for j in range(1024)) for i in range(n)]
        for s, d in zip(socks, data):
            s.sendall(d)
        for i, (s, d) in enumerate(zip(socks, data)):
            got = b""
            while len(got) < len(d):
                chunk = s.recv(4096)
                assert chunk, "connection %d closed early" % i
                got += chunk
            assert got == d, "connection %d: echo differs" % i
        for s in socks:
            s.close()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    assert "served %d" % n in out
    assert "MemoryError" not in err


def _connect_port(lk, port):
    with lk.peer.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((lk.tgt_ip, port))
    except OSError as e:
        s.close()
        return None, e
    return s, None
