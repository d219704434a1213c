"""TCP between ksock and Linux through the user-space impairment bridge
(host_tools/impair.py: seeded loss, delay with jitter, reordering,
duplication, corruption -- this kernel has no netem): the bytes arrive intact
both ways and ksock's counters show the recovery work it did."""
import hashlib
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from hil import netns
from hil.plugin import require_env, target_spec
from hil.targets import make_target
from netstack import bring_up, snmp

pytestmark = pytest.mark.targets("unix", "unix-nocmod")


class _Topo:
    """target ns (ksock on tA) -- bridge ns (bA <impair> bC) -- peer ns (Linux on c0)."""

    def __init__(self):
        self.tgt, self.br, self.peer = netns.NetNS("t"), netns.NetNS("b"), netns.NetNS("p")
        n = netns._seq % 200 + 20
        self.subnet = "10.251.%d" % n
        self.prefix = 24
        self.peer_ip, self.tgt_ip = self.subnet + ".1", self.subnet + ".2"
        self.tgt_if, self.peer_if = "tA", "c0"
        self.tgt_mac = "02:00:00:fb:%02x:02" % n
        netns.sh("ip", "link", "add", "tA", "netns", self.tgt.name, "type", "veth", "peer", "name", "bA",
                 "netns", self.br.name)
        netns.sh("ip", "link", "add", "c0", "netns", self.peer.name, "type", "veth", "peer", "name", "bC",
                 "netns", self.br.name)
        self.tgt.run("ip", "link", "set", "tA", "address", self.tgt_mac)
        for ns, ifs in ((self.tgt, ["tA"]), (self.br, ["bA", "bC"]), (self.peer, ["c0"])):
            for i in ifs:
                ns.run("ip", "link", "set", i, "up")
        self.peer.run("ip", "addr", "add", "%s/24" % self.peer_ip, "dev", "c0")

    @property
    def target_ns(self):
        return self.tgt.name

    def delete(self):
        # the veths stay at the kernel's offloads: the bridge plays the cable
        drift = netns.offload_drift([(self.tgt, "tA"), (self.br, "bA"), (self.br, "bC"), (self.peer, "c0")])
        for ns in (self.tgt, self.br, self.peer):
            ns.delete()
        if drift:
            raise netns.OffloadDrift("; ".join(drift))


@pytest.fixture
def impaired(request, netns_ok, target_name):
    require_env(*netns_ok)
    topo = _Topo()
    bridge = subprocess.Popen(
        ["ip", "netns", "exec", topo.br.name, sys.executable, "-m", "host_tools.impair", "bA", "bC",
         "--loss", "0.02", "--delay", "2", "--jitter", "1", "--reorder", "0.02", "--dup", "0.01",
         "--corrupt", "0.005", "--seed", "11"], stdout=subprocess.PIPE, text=True)
    t = make_target(target_spec(request.config), netns=topo.target_ns)
    try:
        t.start()
        yield t, topo
    finally:
        t.stop()
        bridge.send_signal(signal.SIGTERM)
        try:
            bridge.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            bridge.kill()
        topo.delete()


def _pattern(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def test_tcp_both_ways_through_loss_reorder_dup_corruption_bytes_intact(impaired):
    t, topo = impaired
    bring_up(t, topo)
    n = 1 << 20
    payload = _pattern(n)
    res = {}

    def client():
        time.sleep(0.5)
        with topo.peer.entered():
            s = socket.socket()
        s.settimeout(60)
        s.connect((topo.tgt_ip, 7100))
        tx = threading.Thread(target=s.sendall, args=(payload,))
        tx.start()
        buf = bytearray()
        while len(buf) < n:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        tx.join()
        s.close()
        res["back"] = bytes(buf)
    th = threading.Thread(target=client, daemon=True)
    th.start()
    out = t.exec("""
import ksock.sys as ks
ls = ks.socket(2, 1, 0)
ks.bind(ls, ('0.0.0.0', 7100))
ks.listen(ls, 1)
fd, _ = ks.accept(ls)
buf = bytearray(16384)
total = 0
while True:
    k = ks.recvmsg_into(fd, [buf])[0]
    if not k: break
    mv = memoryview(buf)[:k]
    off = 0
    while off < k:
        off += ks.send(fd, mv[off:])
    total += k
ks.close(fd)
stack.serve(500)
print(total)
""", timeout=240)
    th.join(60)
    assert out.strip() == str(n)
    assert res.get("back") == payload  # echoed intact through the impaired link
    c = snmp(t)
    # the recovery machinery ran: retransmissions, out-of-order data held,
    # corrupted segments refused by the checksum (or the IP header check)
    assert c["Tcp"]["RetransSegs"] > 0
    assert c["TcpExt"]["TCPOFOQueue"] > 0
    assert c["Tcp"]["InCsumErrors"] + c["Ip"]["InHdrErrors"] + c["Ip"]["InCsumErrors"] > 0
