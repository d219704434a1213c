# bench: net targets=unix,unix-nocmod,qemu peer=tcp
# TIME_WAIT at scale (ksock/net/ipv4/inet_timewait_sock.py): the Linux peer
# connects N times from distinct bound ports (tcp_peer's `conn N PORT BASE`,
# 4 clients at once); ksock accepts and closes first, so every connection
# leaves a TIME_WAIT record on ksock while the next ones are accepted. At the
# default heap (no -X heapsize) and the default tcp_timewait_len (60 s): the
# records held at the end, heap per record (gc.mem_alloc() around the run,
# after gc.collect()), tcp_max_tw_buckets as computed from the heap, overflow,
# and the accept rate meanwhile. The board gets more connections than its
# tcp_max_tw_buckets: the rest overflow (counted) while it keeps accepting. A
# record the peer's in-sequence RST ends (a Linux FIN repeated while ksock's
# ACK was on its way: the record ACKs it again, the CLOSED Linux end answers
# RST) goes, as in Linux (RFC 1337's assassination), so a few may be missing.
import gc
import json
import struct
import sys
from ksock import stack
from ksock import sys as K
from ksock.kernel.time import clock
from ksock.net.core import sysctl

BOARD = sys.platform != "linux"
N = 300 if BOARD else 21000
stack.init()
if IFACE == "lan9118":  # noqa: F821 (defined by run.py)
    from ksock.drivers.lan9118 import Lan9118
    stack.add_dev(Lan9118("eth0"))
else:
    stack.add_packet_dev(IFACE, "eth0")  # noqa: F821
stack.ip_addr_add("eth0", TGT_IP + "/24")  # noqa: F821
PEER = PEER_IP  # noqa: F821
from ksock.net.ipv4 import inet_timewait_sock as itw, tcp_ipv4  # noqa: E402
from ksock.net.ipv4.proc import tcpext as X  # noqa: E402


def bench(name, value, unit):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


def connect(port):
    for _ in range(50):  # the peer's listeners may still be starting
        fd = K.socket(2, 1, 0)
        try:
            K.connect(fd, (PEER, port))
            return fd
        except OSError:
            K.close(fd)
            stack.serve(100)
    raise OSError(111)


ctl = connect(9100)
K.setsockopt(ctl, 1, 20, struct.pack("<qq", 120, 0))
ls = K.socket(2, 1, 0)
K.setsockopt(ls, 1, 2, 1)
K.setsockopt(ls, 1, 20, struct.pack("<qq", 30, 0))
K.bind(ls, ("0.0.0.0", 9003))
K.listen(ls, 16)
stack.serve(50)
gc.collect()
h0 = gc.mem_alloc()
ov0 = X.TCPTimeWaitOverflow
K.send(ctl, b"conn %d 9003 10000\n" % N)
t0 = clock.now_us()
for i in range(N):
    fd, _ = K.accept(ls)
    K.close(fd)  # ksock closes first: TIME_WAIT on this side
    if not i & 255:
        gc.collect()
dt = clock.diff(clock.now_us(), t0) / 1e6
while not K.recv(ctl, 16).endswith(b"\n"):
    pass
stack.serve(300)
gc.collect()
h1 = gc.mem_alloc()
held = itw.tw_count()
lines = 0
for line in tcp_ipv4.tcp4_seq_show():  # streamed: the whole table never sits in the heap
    if line.split(None, 4)[3] == "06":
        lines += 1
bench("tcp TIME_WAIT records held (ksock closes first, %d connections)" % N, held, "socks")
bench("tcp heap per TIME_WAIT record", (h1 - h0) // max(1, held), "bytes")
bench("tcp_max_tw_buckets (from the heap)", sysctl.sysctl("net.ipv4.tcp_max_tw_buckets"), "socks")
bench("tcp TIME_WAIT overflow (TCPTimeWaitOverflow) in the run", X.TCPTimeWaitOverflow - ov0, "count")
bench("tcp /proc/net/tcp TIME_WAIT lines (streamed)", lines, "lines")
bench("tcp accepts while TIME_WAIT builds up", round(N / dt), "accepts/s")
gc.collect()
bench("heap free with the records held", gc.mem_free(), "bytes")
K.close(ls)
K.close(ctl)
stack.serve(200)
