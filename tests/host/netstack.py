"""Helpers for network integration tests: bring ksock up on a target inside
its namespace, let it serve while the Linux peer acts, read its counters."""
import subprocess
import threading

UP = """
from ksock import stack
stack.init()
%(attach)s
stack.ip_addr_add('eth0', '%(ip)s/%(prefix)d')
stack.ip_route_add('0.0.0.0/0', via=%(gw)r)
"""
ATTACH = {
    # unix port: AF_PACKET on the veth end in the target's namespace
    "linux": "stack.add_packet_dev(%(ifname)r, 'eth0')",
    # QEMU board: the emulated LAN9118, whose tap sits in the peer namespace
    "qemu": "from ksock.drivers.lan9118 import Lan9118\nstack.add_dev(Lan9118('eth0'))",
    # unix-w5500: the W5500 driver on the register-level model (hil/w5500_model.py) bridged to the veth
    "w5500": "import w5500_model\nw5500_model.attach(%(ifname)r, 'eth0')",
    # a real board (--board): the NIC its description names, wired as described
    "board": "from ksock import board as _b\nstack.add_dev(_b.make_nic(_b.load(%(board)r), 'eth0'))",
}


def bring_up(t, lk):
    p = {"ifname": lk.tgt_if, "ip": lk.tgt_ip, "prefix": lk.prefix, "gw": lk.peer_ip,
         "board": getattr(t, "board", None)}
    p["attach"] = ATTACH[t.nic_driver or t.platform] % p
    t.exec(UP % p)
    if lk.tgt_mac is None:  # a board on a rig: its MAC comes from its NIC
        lk.tgt_mac = t.eval("':'.join('%02x' % b for b in "
                            "__import__('ksock.net.core.dev').net.core.dev.dev_get_by_name('eth0').dev_addr)")


def serve_while(t, ms, action):
    """Run `action()` in a thread while the target serves for `ms` ms; returns
    the action's result (exceptions are re-raised here)."""
    box = {}

    def run():
        try:
            box["r"] = action()
        except BaseException as e:  # noqa: B902 - handed to the test thread
            box["e"] = e

    th = threading.Thread(target=run)
    th.start()
    t.exec("stack.serve(%d)" % ms, timeout=ms / 1000 + 30)
    th.join()
    if "e" in box:
        raise box["e"]
    return box.get("r")


_SNMP = """
from ksock.net.ipv4 import proc as _p
for _m in _p.MIBS + _p.NETSTAT:
    for _n in _m.names:
        print(_m.title, _n, getattr(_m, _n))
del _p, _m, _n
"""


def snmp(t):
    """proc.snmp() as a dict of dicts, printed a counter a line: after a long
    transfer a board's heap may hold no block for the repr of the whole dict."""
    d = {}
    for line in t.exec(_SNMP).splitlines():
        title, name, val = line.split()
        d.setdefault(title, {})[name] = int(val)
    return d


def peer(lk, *cmd, check=True):
    return subprocess.run(["ip", "netns", "exec", lk.peer.name] + [str(c) for c in cmd],
                          capture_output=True, text=True, check=check, timeout=60)
