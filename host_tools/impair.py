"""User-space impairment bridge between two interfaces (this kernel has no netem).

Every frame read on one side is forwarded to the other, after seeded loss,
duplication, corruption, delay (with jitter) and reordering. Run it inside a
namespace holding both interfaces:

    ip netns exec NS python -m host_tools.impair IF_A IF_B --loss 0.02 --delay 5 \
        --jitter 2 --reorder 0.01 --dup 0.005 --corrupt 0.001 --seed 1

It plays a cable: the kernel's offloads stay on (partial checksums, TSO
superframes, read through the virtio-net header), so what one side's kernel
left to "hardware" is done here before impairing -- superframes cut to MSS
segments, checksums filled (ksock.net.core.gso, shared with ksock's driver) --
and frames go out complete, so a corrupted byte is caught by the receiver.

Counters are printed on exit (SIGINT/SIGTERM) as one JSON line.
"""
import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ksock.net.core import gso  # noqa: E402

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING = 263, 15, 23
_ZHDR = bytes(gso.VNET_HDR_LEN)  # on send: a complete frame, nothing left to do


class Impairment:
    def __init__(self, loss=0.0, delay_ms=0.0, jitter_ms=0.0, reorder=0.0, dup=0.0, corrupt=0.0, seed=1):
        self.loss, self.delay, self.jitter = loss, delay_ms / 1000, jitter_ms / 1000
        self.reorder, self.dup, self.corrupt = reorder, dup, corrupt
        self.rng = random.Random(seed)
        self.stats = {"in": 0, "out": 0, "lost": 0, "dup": 0, "corrupt": 0, "reordered": 0}

    def schedule(self, frame, now):
        """[(send_time, frame), ...] for one received frame (empty when lost)."""
        r = self.rng
        self.stats["in"] += 1
        if r.random() < self.loss:
            self.stats["lost"] += 1
            return []
        copies = 2 if r.random() < self.dup else 1
        self.stats["dup"] += copies - 1
        out = []
        for _ in range(copies):
            f = frame
            if r.random() < self.corrupt and len(f) > 14:
                b = bytearray(f)
                i = r.randrange(14, len(b))  # keep the MAC header: corrupt what L3 sees
                b[i] ^= 1 << r.randrange(8)
                f = bytes(b)
                self.stats["corrupt"] += 1
            t = now + self.delay + (r.uniform(-self.jitter, self.jitter) if self.jitter else 0)
            if r.random() < self.reorder:
                t += self.delay + 0.01  # held back past its successors
                self.stats["reordered"] += 1
            out.append((max(t, now), f))
        return out


def open_raw(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)  # not our own forwards
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.setblocking(False)
    return s


def wire_frames(pkt, stats=None):
    """The frames a cable would carry for one packet read with its virtio-net
    header: a TSO superframe cut into segments, a partial checksum filled."""
    h, f = pkt[:gso.VNET_HDR_LEN], bytearray(pkt[gso.VNET_HDR_LEN:])
    gso_type = h[1] & 0x7F
    if gso_type == gso.VIRTIO_NET_HDR_GSO_TCPV4:
        hlen = gso.tcp4_hlen(f, 0, len(f))
        mss = gso.vnet_gso_size(h, 0)
        if not hlen or not mss:
            return []
        plen = gso.tcp4_payload(f, 0, hlen)
        out = []
        for i in range(gso.tso_count(plen, mss)):
            seg = bytearray(hlen + mss)
            n = gso.tso_segment_into(f, 0, hlen, plen, mss, i, seg, 0)
            out.append(bytes(seg[:n]))
        if stats is not None:
            stats["gso"] = stats.get("gso", 0) + 1
        return out
    if gso_type != gso.VIRTIO_NET_HDR_GSO_NONE:
        return []  # UDP GSO and the like: not made by the tests' peers
    if h[0] & gso.VIRTIO_NET_HDR_F_NEEDS_CSUM:
        gso.csum_help(f, 0, len(f), gso.vnet_csum_start(h, 0), gso.vnet_csum_offset(h, 0))
    return [bytes(f)]


def run(if_a, if_b, imp, stop=lambda: False):
    a, b = open_raw(if_a), open_raw(if_b)
    peer = {a.fileno(): b, b.fileno(): a}
    socks = {a.fileno(): a, b.fileno(): b}
    q = []  # heap of (time, seq, out_sock, frame)
    seq = 0
    while not stop():
        now = time.monotonic()
        while q and q[0][0] <= now:
            _, _, s, f = heapq.heappop(q)
            try:
                s.send(_ZHDR + f)
                imp.stats["out"] += 1
            except OSError:
                pass
        timeout = min(0.1, max(0.0, q[0][0] - now)) if q else 0.1
        r, _, _ = select.select(list(socks), [], [], timeout)
        for fd in r:
            try:
                pkt = socks[fd].recv(65536 + 64)
            except BlockingIOError:
                continue
            for frame in wire_frames(pkt, imp.stats):
                for t, f in imp.schedule(frame, time.monotonic()):
                    seq += 1
                    heapq.heappush(q, (t, seq, peer[fd], f))
    a.close()
    b.close()
    return imp.stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--loss", type=float, default=0)
    ap.add_argument("--delay", type=float, default=0, help="ms")
    ap.add_argument("--jitter", type=float, default=0, help="ms")
    ap.add_argument("--reorder", type=float, default=0)
    ap.add_argument("--dup", type=float, default=0)
    ap.add_argument("--corrupt", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    imp = Impairment(a.loss, a.delay, a.jitter, a.reorder, a.dup, a.corrupt, a.seed)
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopped.append(1))
    stats = run(a.if_a, a.if_b, imp, stop=lambda: bool(stopped))
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
