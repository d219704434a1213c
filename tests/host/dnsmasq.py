"""dnsmasq (Debian dnsmasq-base) as the DHCP and DNS server in a test link's peer
namespace (hil/dnsmasq.py), started and stopped by the test; and the device-side
helpers the DHCP/DNS tests share (bring ksock up with no address, a clock that can skip)."""
import pytest

from hil import dnsmasq as _hil


class Dnsmasq(_hil.Dnsmasq):
    def __init__(self, lk, *a, **kw):
        try:
            super().__init__(lk, *a, **kw)
        except FileNotFoundError as e:
            pytest.skip(str(e))


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
