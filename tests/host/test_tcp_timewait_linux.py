"""TIME_WAIT at scale against the Linux kernel: Linux clients connect, ksock
answers and closes first on each connection, so ksock holds the TIME_WAIT
(inet_timewait_sock.py records) and Linux, closing second, ends in CLOSED
once the record's ACK reaches its LAST_ACK. Thousands are held at the unix
port's default heap (hundreds on the QEMU board) while new connections keep
being accepted and served, none overflows tcp_max_tw_buckets, and
/proc/net/tcp, read a line at a time, lists every record as state 06. CI
runs 3,000 (unix) / 200 (QEMU); `make bench` (bench_tcp_timewait.py) 20,000."""
import socket
import threading
import time

import pytest

from netstack import bring_up

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "serial")

PORT = 6200
BASE = 10000  # Linux clients bind distinct ports: every 4-tuple is new to ksock
THREADS = 4

TARGET = """
import gc
import ksock.sys as ks
from ksock.net.core import sysctl
from ksock.net.ipv4 import inet_timewait_sock as itw, tcp_ipv4
from ksock.net.ipv4.proc import tcpext as X
ov0 = X.TCPTimeWaitOverflow
ls = ks.socket(2, 1, 0)
ks.setsockopt(ls, 1, 2, 1)
ks.bind(ls, ('0.0.0.0', %(port)d))
ks.listen(ls, 64)
buf = bytearray(8)
served = 0
while served < %(n)d:
    fd = ks.accept(ls)[0]
    ks.recvmsg_into(fd, [buf])
    ks.send(fd, b'ok')
    ks.close(fd)  # ksock closes first: its end goes to TIME_WAIT
    served += 1
    if not served & 255:
        gc.collect()
stack.serve(500)
gc.collect()
tw = 0
for line in tcp_ipv4.tcp4_seq_show():
    if line.split(None, 4)[3] == '06':
        tw += 1
print(served, itw.tw_count(), tw, X.TCPTimeWaitOverflow - ov0, sysctl.sysctl('net.ipv4.tcp_max_tw_buckets'),
      itw.tw_pool_bytes(), gc.mem_free())
"""


def _clients(lk, n):
    """n connections from THREADS threads, each from its own bound port:
    send, read the answer and ksock's FIN, close second."""
    got = []
    errs = []

    def run(k):
        for j in range(k, n, THREADS):
            with lk.peer.entered():
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((lk.peer_ip, BASE + j))
            s.settimeout(30)
            deadline = time.monotonic() + 30
            while True:
                try:
                    s.connect((lk.tgt_ip, PORT))
                    break
                except OSError as e:  # the listener is not up yet
                    if time.monotonic() > deadline:
                        errs.append(e)
                        return
                    s.close()
                    time.sleep(0.05)
                    with lk.peer.entered():
                        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((lk.peer_ip, BASE + j))
                    s.settimeout(30)
            try:
                s.sendall(b"hi")
                a = s.recv(2)
                eof = s.recv(1)
                got.append((a, eof))
            except OSError as e:
                errs.append(e)
            finally:
                s.close()
    ths = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(THREADS)]
    for th in ths:
        th.start()
    return ths, got, errs


def run_many(t, lk, n):
    """Serve n connections that ksock closes first; (figures dict, host seconds)."""
    bring_up(t, lk)
    t0 = time.monotonic()
    ths, got, errs = _clients(lk, n)
    out = t.exec(TARGET % {"port": PORT, "n": n}, timeout=max(120, n // 20))
    for th in ths:
        th.join(60)
    secs = time.monotonic() - t0
    assert not errs, errs[:3]
    assert len(got) == n and all(g == (b"ok", b"") for g in got), (len(got), got[:3])
    f = out.split()
    names = ("served", "tw", "proc_tw", "overflow", "max_tw_buckets", "pool_bytes", "mem_free")
    return dict(zip(names, (int(x) for x in f))), secs


def test_tcp_ksock_closes_first_many_time_wait_held_new_connections_served(netns_target):
    t, lk = netns_target
    n = 3000 if t.platform == "linux" else 200
    r, secs = run_many(t, lk, n)
    assert r["served"] == n, r
    # every connection's record is held (all came within tcp_timewait_len)
    assert r["tw"] == n and r["proc_tw"] == n and r["overflow"] == 0, (r, secs)
    assert r["max_tw_buckets"] >= n, r
