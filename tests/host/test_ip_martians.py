"""Martian sources and destinations (ip_route_input_slow), ksock vs the Linux
kernel: UDP datagrams from port 7 to port 7 (an echo service) crafted on the
peer's side of the link with a source of 127.0.0.1, 0.0.0.0, the target's
own address, a multicast or the limited broadcast address, or sent to
127.0.0.1, are dropped and counted (/proc/net/stat/rt_cache in_martian_src /
in_martian_dst) and never reach the echo socket -- which would answer itself
for ever. A DHCP-style 0.0.0.0 -> 255.255.255.255 datagram is delivered."""
import socket
import threading
import time

import pytest

from hil import netns
from hil.plugin import require_env
from netstack import bring_up

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500")


def _frames(lk):
    from scapy.all import Ether, IP, UDP  # noqa: PLC0415 - slow import, only here
    mac = lk.peer.run("cat", "/sys/class/net/%s/address" % lk.peer_if).strip()
    e = Ether(src=mac, dst=lk.tgt_mac)
    fs = [e / IP(src=s, dst=lk.tgt_ip) / UDP(sport=7, dport=7) / b"m"
          for s in ("127.0.0.1", "0.0.0.0", lk.tgt_ip, "224.0.0.5", "255.255.255.255")]
    fs.append(e / IP(src=lk.peer_ip, dst="127.0.0.1") / UDP(sport=7, dport=7) / b"m")  # martian destination
    fs.append(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
              / UDP(sport=68, dport=68) / b"d")  # a DHCP client without an address: allowed
    fs.append(e / IP(src=lk.peer_ip, dst=lk.tgt_ip) / UDP(sport=7, dport=7) / b"c")  # the control
    return [bytes(f) for f in fs]


def _inject(lk, frames):
    with lk.peer.entered():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((lk.peer_if, 0))
    for f in frames:
        s.send(f)
        time.sleep(0.01)
    s.close()


def _rt_cache(text):
    """(in_martian_src, in_martian_dst) summed over the CPUs' lines."""
    lines = text.split("\n")
    cols = lines[0].split()
    rows = [[int(v, 16) for v in ln.split()] for ln in lines[1:] if ln.strip()]
    return tuple(sum(r[cols.index(c)] for r in rows) for c in ("in_martian_src", "in_martian_dst"))


ECHO = """
got = {7: [], 68: []}
try:
    now, diff = time.ticks_ms, time.ticks_diff  # MicroPython (a board has no time.time)
except AttributeError:
    now, diff = lambda: int(time.monotonic() * 1000), lambda a, b: a - b
t0 = now()
while diff(now(), t0) < %(ms)d:
    for s, port in ((e, 7), (d, 68)):
        while True:
            try:
                data, a = s.recvfrom(64)
            except OSError:
                break
            got[port].append(a)
            if port == 7 and len(got[7]) < 1000:
                s.sendto(data, a)  # an echo service answers whoever the source says
    time.sleep(0.005)
"""
SETUP = """
import socket, time
e = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
e.bind(('0.0.0.0', 7))
e.setblocking(False)
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
d.bind(('0.0.0.0', 68))
d.setblocking(False)
"""


@pytest.fixture
def linux_pair(netns_ok):
    require_env(*netns_ok)
    lk = netns.Link()
    lk.tgt.run("ip", "addr", "add", "%s/%d" % (lk.tgt_ip, lk.prefix), "dev", lk.tgt_if)
    yield lk
    lk.delete()


def test_ip_martian_sources_and_destination_dropped_counted_no_echo_loop_ksock_matches_linux(
        netns_target, linux_pair):
    t, lk = netns_target
    # Linux: the same echo program under CPython in the target namespace
    rt = lambda: _rt_cache(linux_pair.tgt.run("cat", "/proc/net/stat/rt_cache"))  # noqa: E731
    frames = _frames(linux_pair), _frames(lk)  # scapy is slow: before the clocks start
    before = rt()
    g = {}
    with linux_pair.tgt.entered():
        exec(SETUP, g)  # the sockets belong to the Linux target's namespace
    th = threading.Thread(target=exec, args=(ECHO % {"ms": 1500}, g))
    th.start()
    time.sleep(0.1)
    _inject(linux_pair, frames[0])
    th.join()
    g["e"].close()
    g["d"].close()
    lin = ({p: sorted(a[0] for a in v) for p, v in g["got"].items()}, tuple(a - b for a, b in zip(rt(), before)))
    # ksock
    bring_up(t, lk)
    t.exec("from ksock import run\nrun.install()\nimport ksock.sys as ks\n"
           "ks.sysctl('net.ipv4.conf.all.log_martians', 1)\n" + SETUP)
    before = _rt_cache(t.eval("stack.proc_net('stat/rt_cache')"))
    box = {}
    th = threading.Thread(target=lambda: box.update(o=t.exec(ECHO % {"ms": 1500} + "print(got)", timeout=60)))
    th.start()
    time.sleep(0.3)
    _inject(lk, frames[1])
    th.join()
    # MicroPython's socket gives the address as a raw sockaddr_in
    got = t.eval("dict((p, sorted('%d.%d.%d.%d' % tuple(a[4:8]) for a in v)) for p, v in got.items())")
    after = _rt_cache(t.eval("stack.proc_net('stat/rt_cache')"))
    ks = (got, tuple(a - b for a, b in zip(after, before)))
    print("linux", lin, "\nksock", ks, "\n", box.get("o"))
    assert lin == ({7: [lk.peer_ip.replace(lk.subnet, linux_pair.subnet)], 68: ["0.0.0.0"]}, (5, 1)), lin
    assert ks == ({7: [lk.peer_ip], 68: ["0.0.0.0"]}, (5, 1)), ks
    out = box["o"]
    assert "martian source %s from 127.0.0.1, on dev eth0" % lk.tgt_ip in out, out  # log_martians
    assert "martian destination 127.0.0.1 from %s, dev eth0" % lk.peer_ip in out, out
