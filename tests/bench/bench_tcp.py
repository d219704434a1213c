# bench: net targets=unix,unix-nocmod,unix-natmod,qemu,rp2js peer=tcp
# TCP between ksock (this target, in its namespace) and the Linux kernel on the
# veth's (QEMU: tap's; rp2js: the W5500 model's veth) other end; the CPython peer is tests/bench/run.py:tcp_peer.
#   rx: we connect to the peer's source (9102), which sends as fast as it can;
#       bytes read by recvfrom_into() from the first one for DUR_MS.
#   tx: we connect to the peer's sink (9101), send() for DUR_MS, shut down and
#       wait for the count it read: time until Linux has everything.
#   accepts/s: the peer connects and closes N times in a loop; we accept and close.
#   heap per established connection: gc.mem_alloc() around M accepted connections
#       (measured first, on a fresh heap).
# The C skb (unix) and Python skb (unix-nocmod) figures come from the same run.
import gc
import json
import struct
import sys
from ksock import stack
from ksock import sys as K
from ksock.kernel.time import clock

BOARD = sys.platform != "linux"
DUR_MS = 2000
stack.init()
if IFACE == "lan9118":  # noqa: F821 (defined by run.py)
    from ksock.drivers.lan9118 import Lan9118
    stack.add_dev(Lan9118("eth0"))
elif IFACE.startswith("board:"):  # noqa: F821 -- the board's NIC as wired (rp2js: W5500 on SPI0)
    from ksock import board as _b
    stack.add_dev(_b.make_nic(_b.load(IFACE[6:]), "eth0"))  # noqa: F821
else:
    stack.add_packet_dev(IFACE, "eth0")  # noqa: F821
stack.ip_addr_add("eth0", TGT_IP + "/24")  # noqa: F821
PEER = PEER_IP  # noqa: F821


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


def ask(cmd):
    K.send(ctl, cmd + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        d = K.recv(ctl, 16)
        if not d:
            raise OSError(104)
        got += d
    return got


K.setsockopt(ctl, 1, 20, struct.pack("<qq", 30, 0))  # SO_RCVTIMEO: a lost answer fails, not hangs
ls = K.socket(2, 1, 0)
K.setsockopt(ls, 1, 2, 1)
K.setsockopt(ls, 1, 20, struct.pack("<qq", 30, 0))
K.bind(ls, ("0.0.0.0", 9001))
K.listen(ls, 8)
buf = bytearray(2048 if BOARD else 65536)
mv = memoryview(buf)

# ---- heap per established connection -------------------------------------------------
M = 10 if BOARD else 50  # issue 15 measures N = 50; the bench board heap holds fewer
K.setrlimit_nofile(M + 8)  # a board's default fd and inode limits are lower
from ksock.net import socket as _S  # noqa: E402
_S.sockfs_set_max(M + 8)
fds = [0] * M
gc.collect()
h0 = gc.mem_alloc()
K.send(ctl, b"hold %d 9001\n" % M)
for i in range(M):
    fds[i] = K.accept(ls)[0]
while not K.recv(ctl, 16).endswith(b"\n"):
    pass
gc.collect()
h1 = gc.mem_alloc()
bench("tcp heap per established connection (accepted, idle)", (h1 - h0) // M, "bytes")
ask(b"release")
for fd in fds:
    K.close(fd)
stack.serve(300)

# ---- rx: Linux -> ksock -------------------------------------------------------------
fd = connect(9102)
n = K.recvfrom_into(fd, buf)[0]
t0 = clock.now_us()
total = 0
while clock.diff(clock.now_us(), t0) < DUR_MS * 1000:
    total += K.recvfrom_into(fd, buf)[0]
dt = clock.diff(clock.now_us(), t0) / 1e6
K.close(fd)  # unread data: RST, the source stops
bench("tcp rx bulk", round(total * 8 / dt / 1e6, 2), "Mbit/s")

# ---- tx: ksock -> Linux -------------------------------------------------------------
fd = connect(9101)
total = 0
t0 = clock.now_us()
while clock.diff(clock.now_us(), t0) < DUR_MS * 1000:
    total += K.send(fd, mv)
K.shutdown(fd, 1)
got = b""
while not got.endswith(b"\n"):
    got += K.recv(fd, 32)
dt = clock.diff(clock.now_us(), t0) / 1e6
K.close(fd)
assert int(got) == total, (got, total)
bench("tcp tx bulk", round(total * 8 / dt / 1e6, 2), "Mbit/s")

# ---- accepts/s ---------------------------------------------------------------------
N = 100 if BOARD else 1000
K.send(ctl, b"conn %d 9001\n" % N)
fd, _ = K.accept(ls)
K.close(fd)
t0 = clock.now_us()
for i in range(N - 1):
    fd, _ = K.accept(ls)
    K.close(fd)
dt = clock.diff(clock.now_us(), t0) / 1e6
while not K.recv(ctl, 16).endswith(b"\n"):
    pass
bench("tcp accepts from Linux (connect+close loop)", round((N - 1) / dt), "accepts/s")

K.close(ls)
K.close(ctl)
stack.serve(200)
