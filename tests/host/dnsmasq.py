"""dnsmasq (Debian dnsmasq-base) as the DHCP and DNS server in a test link's peer
namespace, started and stopped by the test; and the device-side helpers the
DHCP/DNS tests share (bring ksock up with no address, a clock that can skip)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest


class Dnsmasq:
    def __init__(self, lk, dhcp_range=None, extra=(), lease="2m"):
        if shutil.which("dnsmasq") is None:
            pytest.skip("dnsmasq not installed (firmware/deps.sh installs dnsmasq-base)")
        self.lk = lk
        self.dir = tempfile.mkdtemp(prefix="ksdnsmasq")
        self.leasefile = os.path.join(self.dir, "leases")
        self.logfile = os.path.join(self.dir, "log")
        self.range = dhcp_range or (lk.subnet + ".50", lk.subnet + ".59")
        self.extra = list(extra)
        self.lease = lease
        self.proc = None

    def start(self, dhcp_range=None, extra=None):
        if dhcp_range is not None:
            self.range = dhcp_range
        if extra is not None:
            self.extra = list(extra)
        lk = self.lk
        cmd = ["ip", "netns", "exec", lk.peer.name, "dnsmasq", "-k", "--conf-file=/dev/null",
               "--user=root", "--group=root", "--interface=" + lk.peer_if, "--bind-interfaces",
               "--except-interface=lo", "--no-resolv", "--no-hosts", "--no-ping", "--dhcp-authoritative",
               "--dhcp-range=%s,%s,255.255.255.0,%s" % (self.range[0], self.range[1], self.lease),
               "--dhcp-option=option:router,%s" % lk.peer_ip,
               "--dhcp-option=option:dns-server,%s" % lk.peer_ip,
               "--dhcp-leasefile=" + self.leasefile, "--pid-file=" + os.path.join(self.dir, "pid"),
               "--log-dhcp", "--log-queries", "--log-facility=" + self.logfile] + self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError("dnsmasq failed: %s" % self.proc.stderr.read().decode())
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def leases(self):
        """[(expiry, mac, ip, hostname, client_id)] from the lease file."""
        try:
            with open(self.leasefile) as f:
                return [tuple(line.split()) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ksock with no address on eth0, a clock the test can move forward (leases of
# minutes pass in a moment; everything else runs in real time), and the RFC 5227
# probe shortened so a lease takes well under a second.
SKIPCLOCK = """
from ksock.kernel import time as ktime
from ksock.compat import ticks_ms, ticks_us, ticks_add
try:
    from time import sleep_ms as _sleep_ms
except ImportError:
    _sleep_ms = None  # the QEMU board: nothing to sleep on
class SkipClock(ktime.Clock):
    off = 0
    def now_ms(self):
        return ticks_add(ticks_ms(), self.off)
    def now_us(self):
        return ticks_add(ticks_us(), self.off * 1000)
    def idle(self, ms):
        if _sleep_ms:
            _sleep_ms(min(ms, 2))
    def skip(self, ms):
        self.off += ms
clk = SkipClock()
ktime.set_clock(clk)
"""
UP_NOADDR = """
from ksock import stack
stack.init()
%(attach)s
""" + SKIPCLOCK + """
from ksock.net.ipv4 import ipconfig as ic, devinet, route
ic.PROBE_WAIT = 50
ic.PROBE_MIN = ic.PROBE_MAX = 100
ic.ANNOUNCE_WAIT = 200
ic.DECLINE_WAIT_MS = 200
ntoa = devinet.inet_ntoa
def lease(c):
    return (ic.STATE_NAMES[c.state], c.addr and ntoa(c.addr), c.prefixlen, c.router and ntoa(c.router),
            [ntoa(d) for d in c.dns], c.lease, c.t1, c.t2)
def hist(c):
    return [ic.STATE_NAMES[s] for s in c.history]
"""


def up_noaddr(t, lk):
    from netstack import ATTACH
    p = {"ifname": lk.tgt_if, "board": getattr(t, "board", None)}
    t.exec(UP_NOADDR % {"attach": ATTACH[t.nic_driver or t.platform] % p})
