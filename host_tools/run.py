"""`make run`: boot ksock on a target inside its own network namespace, with the
Linux kernel as the peer on a veth (unix) or tap (QEMU), and print its status.

    python -m host_tools.run --target=unix|qemu [--keep]
"""
import argparse
import os
import signal
import sys

from hil import netns
from hil.targets import make_target


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="unix", help="unix | unix-nocmod | qemu")
    ap.add_argument("--keep", action="store_true", help="stay up until Ctrl-C")
    a = ap.parse_args(argv)
    ok, why = netns.available()
    if not ok:
        sys.exit("make run: %s" % why)
    netns.reap_stale()
    lk = netns.Link(tap=(a.target == "qemu"))
    kw = {"netns": lk.target_ns}
    if a.target == "qemu":
        kw["nic"] = "tap,model=lan9118,ifname=%s,script=no,downscript=no,mac=%s" % (lk.peer_if, lk.tgt_mac)
    t = make_target(a.target, **kw)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        t.start()
        print("ksock on %s in netns %s; Linux peer %s on %s (%s/24)" % (
            a.target, lk.target_ns, lk.peer.name, lk.peer_if, lk.peer_ip))
        print(t.exec("import ksock.boot\nksock.boot.print_status()"), end="")
        if a.keep:
            print("up; Ctrl-C to stop")
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        t.stop()
        lk.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
