# Bring-up report: what this interpreter gives ksock (skb implementation, clock,
# heap, NIC). `make run` prints it; later the stack's own status joins it.
import gc
import sys

from ksock import __version__
from ksock.compat import MICROPYTHON
from ksock.net.core import skbuff
from ksock.kernel import time as ktime


def _nic():
    if sys.platform == "qemu":
        import machine
        idrev = machine.mem32[0x40200050] & 0xFFFFFFFF
        return "LAN9118 id_rev=0x%08x" % idrev
    try:
        import os
        return "netdevs: " + " ".join(sorted(os.listdir("/sys/class/net")))
    except (ImportError, OSError, AttributeError):
        return "unknown"


def status():
    gc.collect()
    t0 = ktime.clock.now_us()
    return {
        "ksock": __version__,
        "interpreter": "%s %s" % (sys.implementation.name, ".".join(str(x) for x in sys.implementation.version[:3])),
        "platform": sys.platform,
        "skb": skbuff.IMPL,
        "heap_free": gc.mem_free() if MICROPYTHON else -1,
        "heap_alloc": gc.mem_alloc() if MICROPYTHON else -1,
        "clock_us": t0,
        "nic": _nic(),
    }


ORDER = ("ksock", "interpreter", "platform", "skb", "heap_free", "heap_alloc", "clock_us", "nic")


def print_status():
    st = status()
    for k in ORDER:
        print("%-12s %s" % (k, st[k]))
