# bench: net targets=unix,unix-nocmod,unix-natmod,qemu
# UDP between ksock (this target, in its namespace) and the Linux kernel on the
# veth's other end. run.py starts the target there, defines IFACE/TGT_IP/PEER_IP
# and runs a CPython peer (tests/bench/run.py: udp_peer) that sinks datagrams on
# 9000 and, asked on 9002, blasts datagrams at us on 9001.
#   tx: ksock sendto() as fast as it goes for DUR_MS; the peer's count of what
#       arrived gives the delivered rate.
#   rx: the peer sends as fast as CPython can for DUR_MS; we count what
#       recvfrom() gets between the first and the last datagram.
import json
import struct
from ksock import stack
from ksock import sys as K
from ksock.kernel.time import clock

DUR_MS = 1500
stack.init()
if IFACE == "lan9118":  # noqa: F821 (defined by run.py)
    from ksock.drivers.lan9118 import Lan9118
    stack.add_dev(Lan9118("eth0"))
else:
    stack.add_packet_dev(IFACE, "eth0")  # noqa: F821
stack.ip_addr_add("eth0", TGT_IP + "/24")  # noqa: F821
PEER = PEER_IP  # noqa: F821


def bench(name, value, unit):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


ctl = K.socket(2, 2, 0)
K.setsockopt(ctl, 1, 20, struct.pack("<qq", 1, 0))
K.bind(ctl, ("0.0.0.0", 9003))


def reply(tag):
    """The peer's answer tagged `tag` (a flood may drop frames: stale or
    repeated answers are skipped)."""
    while True:
        w = K.recv(ctl, 100).split()
        if w and w[0] == tag:
            return w[1]


def ask(msg):
    for _ in range(5):  # the request itself may be lost in a flood
        K.sendto(ctl, msg, 0, (PEER, 9002))
        try:
            return reply(msg.split()[0])
        except OSError:
            pass
    raise OSError(11)


ask(b"hello")  # ARP both ways before timing
for size in (64, 1472):
    # ---- tx: ksock -> Linux ----
    ask(b"reset")
    s = K.socket(2, 2, 0)
    buf = bytes(size)
    n = 0
    t0 = clock.now_us()
    while clock.diff(clock.now_us(), t0) < DUR_MS * 1000:
        for _ in range(64):
            K.sendto(s, buf, 0, (PEER, 9000))
        n += 64
    dt = clock.diff(clock.now_us(), t0) / 1e6
    got = int(ask(b"count"))
    bench("udp tx %dB sent" % size, round(n / dt), "datagrams/s")
    bench("udp tx %dB delivered" % size, round(got / dt), "datagrams/s")
    bench("udp tx %dB delivered" % size, round(got * size * 8 / dt / 1e6, 2), "Mbit/s")
    K.close(s)
    # ---- rx: Linux -> ksock ----
    r = K.socket(2, 2, 0)
    K.setsockopt(r, 1, 8, 1 << 20)  # SO_RCVBUF: room for a burst
    K.setsockopt(r, 1, 20, struct.pack("<qq", 0, 300000))
    K.bind(r, ("0.0.0.0", 9001))
    rbuf = bytearray(2048)
    K.sendto(ctl, b"blast %d %d" % (size, DUR_MS), 0, (PEER, 9002))
    n = 0
    t_first = t_last = 0
    while True:
        try:
            k = K.recvmsg_into(r, [rbuf])[0]
        except OSError:
            break
        t_last = clock.now_us()
        if not n:
            t_first = t_last
        n += 1
    sent = int(reply(b"blast"))
    dt = max(clock.diff(t_last, t_first), 1) / 1e6
    bench("udp rx %dB received" % size, round(n / dt), "datagrams/s")
    bench("udp rx %dB received" % size, round(n * size * 8 / dt / 1e6, 2), "Mbit/s")
    bench("udp rx %dB received of sent" % size, round(100 * n / max(sent, 1), 1), "%")
    K.close(r)
