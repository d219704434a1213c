"""Connect/echo/close soak against the Linux kernel, in each closing order, through
the launcher at the interpreter's default heap: an ordinary poll-based echo
server on ksock, a closed-loop Linux client (one connection at a time). Every
connection is served, and once TIME_WAIT has drained, heap, sockets in use,
sockstat and the skb/chunk pool are back to where they were before the first
connection. Rates per thousand are printed, not asserted (the figures are
`make bench`'s); CI runs 10,000 per order on unix, 3,000 without kskb."""
import os
import subprocess
import sys

import pytest

from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod")
PORT = 7900
MSG = 64

# The ksock side: echoes MSG bytes per connection; in order "ksock" it closes
# as soon as it has echoed (so ksock holds TIME_WAIT), in order "peer" it waits
# for the peer's FIN. Then it waits until no TIME_WAIT or orphan is left.
SERVER = """
import sys, socket, select, gc, time
from ksock.net.ipv4 import tcp_ipv4
from ksock.net.core import sk_mem
N, KFIRST, MSG = int(sys.argv[2]), sys.argv[3] == 'ksock', %(msg)d
def state():
    gc.collect()
    return gc.mem_alloc(), tcp_ipv4.proc_net_sockstat(), sk_mem.pool_stats()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(socket.getaddrinfo('0.0.0.0', int(sys.argv[1]))[0][-1])
s.listen(16)
p = select.poll()
p.register(s, select.POLLIN)
base = state()
seen = {}
done = 0
while done < N:
    for obj, ev in p.poll(1000):
        if obj is s:
            c = s.accept()[0]
            p.register(c, select.POLLIN)
            seen[id(c)] = 0
            continue
        d = obj.recv(MSG)
        if d:
            obj.write(d)
            seen[id(obj)] += len(d)
        if not d or (KFIRST and seen[id(obj)] >= MSG):
            p.unregister(obj)
            del seen[id(obj)]
            obj.close()
            done += 1
print('served', done)
for _ in range(150):  # TIME_WAIT lasts 60 s
    st = tcp_ipv4.proc_net_sockstat().split('\\n')[1].split()
    if st[4] == '0' and st[6] == '0':  # orphan, tw
        break
    time.sleep(0.5)
end = state()
s.close()
for a, b in zip(base, end):
    print(repr(a))
    print(repr(b))
"""

# The Linux side: N connections one after another, a time mark per thousand.
CLIENT = """
import socket, sys, time
ip, port, n, order, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
msg = bytes(range(size))
marks = [time.monotonic()]
for i in range(n):
    for attempt in range(100):  # until the server's listener is up
        try:
            s = socket.create_connection((ip, port), timeout=10)
            break
        except ConnectionRefusedError:
            time.sleep(0.1)
    s.sendall(msg)
    got = b''
    while len(got) < size:
        d = s.recv(size - len(got))
        assert d, 'connection %d closed before its echo' % i
        got += d
    assert got == msg, 'connection %d: echo differs' % i
    if order == 'ksock':
        assert s.recv(1) == b'', 'connection %d: ksock did not close first' % i
    s.close()
    if (i + 1) % 1000 == 0:
        marks.append(time.monotonic())
print(' '.join('%.0f' % (1000 / (b - a)) for a, b in zip(marks, marks[1:])))
"""


@pytest.fixture
def veth(netns_ok, target_name):
    require_env(*netns_ok)
    lk = netns.Link()
    yield lk, os.path.join(BUILD, target_name, "micropython")
    lk.delete()


@pytest.mark.parametrize("order", ["peer", "ksock"])
def test_tcp_soak_connect_echo_close_each_order_heap_sockets_pool_back_to_baseline(veth, tmp_path, target_name, order):
    lk, binary = veth
    n = int(os.environ.get("SOAK_N", 10000 if target_name == "unix" else 3000))
    prog = tmp_path / "soak_server.py"
    prog.write_text(SERVER % {"msg": MSG})
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", ".frozen")
    srv = subprocess.Popen(["ip", "netns", "exec", lk.tgt.name, binary, "-m", "ksock.run",  # default heap
                            "--iface", lk.tgt_if, "--addr", "%s/%d" % (lk.tgt_ip, lk.prefix), str(prog),
                            str(PORT), str(n), order],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        cli = subprocess.run(["ip", "netns", "exec", lk.peer.name, sys.executable, "-c", CLIENT, lk.tgt_ip,
                              str(PORT), str(n), order, str(MSG)], capture_output=True, text=True, timeout=600)
        out, err = srv.communicate(timeout=120)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.communicate()
    assert cli.returncode == 0, cli.stderr[-2000:]
    rates = cli.stdout.split()
    assert srv.returncode == 0, err[-2000:]
    lines = out.strip().split("\n")
    assert lines[0] == "served %d" % n, out
    h0, h1, st0, st1, pool0, pool1 = lines[1:7]
    print("order %s: connections/s per thousand: %s" % (order, " ".join(rates)))
    # sockets: used, TCP inuse/orphan/tw/alloc/mem, UDP: all as before the first connection
    assert st1 == st0, (st0, st1)
    assert pool1 == pool0, (pool0, pool1)
    # what may stay is first-use growth of tables, not memory per connection
    assert int(h1) - int(h0) < 4096, (h0, h1, rates)
