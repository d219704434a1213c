"""host_tools/impair.py between two Linux namespaces: frames pass, seeded loss
drops the fraction asked for, and the same seed gives the same decisions."""
import json
import signal
import subprocess
import sys
import time

from hil import netns
from hil.plugin import require_env
from host_tools.impair import Impairment


def test_impairment_schedule_is_deterministic_per_seed():
    a = Impairment(loss=0.3, dup=0.1, corrupt=0.1, reorder=0.1, delay_ms=5, jitter_ms=2, seed=7)
    b = Impairment(loss=0.3, dup=0.1, corrupt=0.1, reorder=0.1, delay_ms=5, jitter_ms=2, seed=7)
    f = bytes(range(64))
    assert [a.schedule(f, 0.0) for _ in range(500)] == [b.schedule(f, 0.0) for _ in range(500)]
    assert 100 < a.stats["lost"] < 200 and a.stats["dup"] > 10 and a.stats["corrupt"] > 10


def test_corruption_keeps_the_mac_header():
    imp = Impairment(corrupt=1.0, seed=3)
    f = bytes(60)
    for _ in range(50):
        [(t, g)] = imp.schedule(f, 0.0)
        assert g[:14] == f[:14] and g != f


def _three_hosts():
    a, br, c = netns.NetNS("a"), netns.NetNS("b"), netns.NetNS("c")
    netns.sh("ip", "link", "add", "a0", "netns", a.name, "type", "veth", "peer", "name", "ba", "netns", br.name)
    netns.sh("ip", "link", "add", "c0", "netns", c.name, "type", "veth", "peer", "name", "bc", "netns", br.name)
    for ns, ifs in ((a, ["a0"]), (br, ["ba", "bc"]), (c, ["c0"])):
        for i in ifs:
            ns.run("ip", "link", "set", i, "up")
    a.run("ip", "addr", "add", "10.250.0.1/24", "dev", "a0")
    c.run("ip", "addr", "add", "10.250.0.2/24", "dev", "c0")
    return a, br, c


def _ping_through(args, count):
    a, br, c = _three_hosts()
    try:
        p = subprocess.Popen(["ip", "netns", "exec", br.name, sys.executable, "-m", "host_tools.impair",
                              "ba", "bc"] + args, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        r = a.run("ping", "-c", str(count), "-i", "0.01", "-W", "1", "10.250.0.2", check=False)
        p.send_signal(signal.SIGTERM)
        stats = json.loads(p.communicate(timeout=10)[0].strip().splitlines()[-1])
        return r, stats
    finally:
        for ns in (a, br, c):
            ns.delete()


def test_bridge_forwards_everything_without_impairment(netns_ok):
    require_env(*netns_ok)
    r, stats = _ping_through([], 20)
    assert " 20 received" in r, r
    assert stats["lost"] == 0 and stats["out"] >= 40


def test_bridge_seeded_loss_drops_some_pings(netns_ok):
    require_env(*netns_ok)
    r, stats = _ping_through(["--loss", "0.3", "--seed", "5"], 60)
    assert stats["lost"] > 0
    got = int(r.split(" received")[0].split()[-1])
    assert 10 < got < 58, r


def test_bridge_plays_a_cable_for_tso_peers_corruption_caught_by_receiver(netns_ok):
    """Both Linux ends at the kernel's default offloads: the bridge cuts the
    sender's TSO superframes and fills its partial checksums, so the bytes it
    corrupts are caught by the receiving kernel (InCsumErrors) and TCP repairs them."""
    require_env(*netns_ok)
    import hashlib
    import socket
    import threading
    a, br, c = _three_hosts()
    try:
        p = subprocess.Popen(["ip", "netns", "exec", br.name, sys.executable, "-m", "host_tools.impair",
                              "ba", "bc", "--corrupt", "0.01", "--seed", "4"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        payload = hashlib.sha256(b"x").digest() * (1 << 17)  # 4 MiB
        with c.entered():
            ls = socket.socket()
        ls.bind(("10.250.0.2", 7300))
        ls.listen(1)
        ls.settimeout(30)
        box = {}

        def sink():
            s, _ = ls.accept()
            h, n = hashlib.sha256(), 0
            while True:
                d = s.recv(65536)
                if not d:
                    break
                h.update(d)
                n += len(d)
            box["r"] = (n, h.hexdigest())
            s.close()
        th = threading.Thread(target=sink)
        th.start()
        with a.entered():
            s = socket.socket()
        s.settimeout(30)
        s.connect(("10.250.0.2", 7300))
        s.sendall(payload)
        s.close()
        th.join(60)
        ls.close()
        lines = c.run("cat", "/proc/net/snmp").splitlines()
        tcp = {}
        for names, vals in zip(lines[::2], lines[1::2]):
            if names.startswith("Tcp:"):
                tcp = dict(zip(names.split()[1:], vals.split()[1:]))
        p.send_signal(signal.SIGTERM)
        stats = json.loads(p.communicate(timeout=10)[0].strip().splitlines()[-1])
        assert box["r"] == (len(payload), hashlib.sha256(payload).hexdigest())
        assert stats.get("gso", 0) > 0 and stats["corrupt"] > 0, stats
        assert int(tcp.get("InCsumErrors", 0)) > 0, tcp
    finally:
        for ns in (a, br, c):
            ns.delete()
