"""The `network` NIC object (ksock/network.py) as MicroPython programs use it:
network.LAN / network.WIZNET5K, active(), DHCP from dnsmasq in the peer
namespace, ifconfig()/ipconfig()/config()/status(), then socket.getaddrinfo of
a dnsmasq name and a TCP exchange with the peer. On the device (unix with
AF_PACKET, QEMU's LAN9118, the W5500 driver on its register model) and as an
unmodified program under `micropython -m ksock.run` (unix)."""
import os
import socket
import subprocess
import threading

import pytest

from dnsmasq import Dnsmasq
from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500")

NIC = {
    "linux": "nic = network.LAN(ifname=%(ifname)r)",
    "qemu": "nic = network.LAN()",
    "w5500": "import w5500_model\nb = w5500_model.Board(%(ifname)r)\n"
             "nic = network.WIZNET5K(b.spi, b.cs, b.rst)\nnic.config(mac=b.mac)",
}

PROG = """
import network
from ksock.net.ipv4 import ipconfig as ic
ic.PROBE_WAIT = 50; ic.PROBE_MIN = ic.PROBE_MAX = 100; ic.ANNOUNCE_WAIT = 200
%(nic)s
print('before', nic.active(), nic.isconnected(), nic.ipconfig('addr4'))
nic.config(hostname='ksnic')
nic.active(True)
nic.ifconfig('dhcp')
print('addr4', nic.ipconfig('addr4'))
print('ifconfig', nic.ifconfig())
print('dhcp', nic.ipconfig('dhcp4'), nic.ipconfig('has_dhcp4'), nic.isconnected(), nic.status())
print('mac', ':'.join('%%02x' %% b for b in nic.config('mac')), nic.config('hostname'))
import ksock.socket as socket
ai = socket.getaddrinfo('peer.ks.test', 7071, 0, socket.SOCK_STREAM)[0]
s = socket.socket()
s.connect(ai[-1])
s.send(b'hello from ksock')
print('echo', s.recv(100))
s.close()
"""


class _Echo:
    """A TCP echo server on the peer (one connection)."""

    def __init__(self, lk, port=7071):
        with lk.peer.entered():
            self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((lk.peer_ip, port))
        self.s.listen()
        self.s.settimeout(60)
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        try:
            c, _ = self.s.accept()
        except OSError:
            return
        with c:
            c.settimeout(10)
            d = c.recv(100)
            c.sendall(d)

    def close(self):
        self.s.close()


def _check(out, lk, mac, host="ksnic"):
    lines = dict(line.split(" ", 1) for line in out.strip().split("\n"))
    assert lines["before"] == "False False ('0.0.0.0', '0.0.0.0')"
    ip, mask = eval(lines["addr4"])
    assert ip.startswith(lk.subnet + ".") and 50 <= int(ip.rsplit(".", 1)[1]) <= 59 and mask == "255.255.255.0"
    assert eval(lines["ifconfig"]) == (ip, mask, lk.peer_ip, lk.peer_ip)
    assert lines["dhcp"] == "True True True 2"
    if mac:
        assert lines["mac"] == mac + " " + host
    assert lines["echo"] == "b'hello from ksock'"
    return ip


def test_nic_active_dhcp_getaddrinfo_tcp_to_peer(netns_target):
    t, lk = netns_target
    d = Dnsmasq(lk, extra=["--host-record=peer.ks.test,%s" % lk.peer_ip])
    echo = _Echo(lk)
    try:
        d.start()
        drv = t.nic_driver or t.platform
        if drv not in NIC:
            pytest.skip("no network NIC recipe for %s" % drv)
        out = t.exec(PROG % {"nic": NIC[drv] % {"ifname": lk.tgt_if}}, timeout=60)
        ip = _check(out, lk, lk.tgt_mac if drv != "w5500" else None)
        leases = d.leases()
        assert [(x[2], x[3]) for x in leases] == [(ip, "ksnic")]
    finally:
        echo.close()
        d.close()


UNMODIFIED = """
import network, socket, time
nic = network.LAN()
nic.active(True)  # starts DHCP, as MicroPython's lwIP NICs do
while not nic.isconnected():
    time.sleep_ms(100)
print('addr4', nic.ipconfig('addr4'))
print('ifconfig', nic.ifconfig())
print('dhcp', nic.ipconfig('dhcp4'), nic.ipconfig('has_dhcp4'), nic.isconnected(), nic.status())
print('before', False, False, ('0.0.0.0', '0.0.0.0'))
print('mac', ':'.join('%02x' % b for b in nic.config('mac')), nic.config('hostname'))
ai = socket.getaddrinfo('peer.ks.test', 7071)[0]
s = socket.socket()
s.connect(ai[-1])
s.send(b'hello from ksock')
print('echo', s.recv(100))
s.close()
"""


@pytest.mark.targets("unix", "unix-nocmod")
def test_launcher_unmodified_program_network_lan_dhcp(netns_ok, target_name, tmp_path):
    require_env(*netns_ok)
    lk = netns.Link()
    d = Dnsmasq(lk, extra=["--host-record=peer.ks.test,%s" % lk.peer_ip])
    echo = _Echo(lk)
    try:
        d.start()
        prog = tmp_path / "prog.py"
        prog.write_text(UNMODIFIED)
        env = dict(os.environ)
        env.setdefault("MICROPYPATH", ".frozen")
        r = subprocess.run(["ip", "netns", "exec", lk.tgt.name, os.path.join(BUILD, target_name, "micropython"),
                            "-m", "ksock.run", "--iface", lk.tgt_if, str(prog)],
                           capture_output=True, text=True, timeout=60, env=env, cwd=str(tmp_path))
        assert r.returncode == 0, r.stdout + r.stderr
        _check(r.stdout, lk, lk.tgt_mac, "mpy-ksock")
        assert [x[3] for x in d.leases()] == ["mpy-ksock"]
    finally:
        echo.close()
        d.close()
        lk.delete()
