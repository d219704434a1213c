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
