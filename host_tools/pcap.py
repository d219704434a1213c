"""Capture a target's Ethernet frames to a Wireshark-readable pcap file, from
the Linux side of its link: the peer end of the veth/tap in a test namespace,
or the host NIC cabled to a board on a rig. AF_PACKET sees both directions.

    python -m host_tools.pcap --iface eth1 -w board.pcap [--netns NS] [--seconds 10] [-c 100]

In tests: `with Capture(iface, path, netns=ns): ...` (hil/netns.NetNS.entered).
Classic pcap (magic a1b2c3d4, v2.4, LINKTYPE_ETHERNET), microsecond stamps.
"""
import argparse
import contextlib
import os
import select
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535


def pcap_header():
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)


def pcap_record(ts, frame):
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame


def open_socket(iface, netns=None):
    """A raw AF_PACKET socket on `iface` (made inside `netns` when given)."""
    ctx = contextlib.nullcontext()
    if netns:
        from hil.netns import NetNS
        ns = NetNS.__new__(NetNS)
        ns.name = netns
        ctx = ns.entered()
    with ctx:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((iface, 0))
    return s


class Capture:
    """Frames on `iface` into `path` until stop() (or `count` frames)."""

    def __init__(self, iface, path, netns=None, count=0):
        self.sock = open_socket(iface, netns)
        self.path = path
        self.count = count
        self.frames = 0
        self._stop = threading.Event()
        self._th = None

    def run(self, seconds=None):
        deadline = None if seconds is None else time.monotonic() + seconds
        with open(self.path, "wb") as f:
            f.write(pcap_header())
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if not select.select([self.sock], [], [], 0.05)[0]:
                    continue
                frame = self.sock.recv(SNAPLEN)
                f.write(pcap_record(time.time(), frame))
                f.flush()
                self.frames += 1
                if self.count and self.frames >= self.count:
                    break
        self.sock.close()

    def start(self):
        self._th = threading.Thread(target=self.run, daemon=True)
        self._th.start()
        return self

    def stop(self):
        time.sleep(0.1)  # frames already on the socket make it into the file
        self._stop.set()
        if self._th:
            self._th.join()
        return self.frames

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iface", required=True, help="the Linux end of the target's link")
    ap.add_argument("-w", "--write", required=True, help="pcap file to write")
    ap.add_argument("--netns", help="network namespace holding --iface")
    ap.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    ap.add_argument("-c", "--count", type=int, default=0, help="stop after this many frames")
    a = ap.parse_args(argv)
    if not os.path.exists("/sys/class/net/%s" % a.iface) and not a.netns:
        print("pcap: no interface %s here" % a.iface, file=sys.stderr)
        return 2
    c = Capture(a.iface, a.write, a.netns, a.count)
    try:
        c.run(a.seconds)
    except KeyboardInterrupt:
        pass
    print("pcap: %d frames -> %s" % (c.frames, a.write))
    return 0


if __name__ == "__main__":
    sys.exit(main())
