# bench: net targets=unix,unix-nocmod peer=tcp
# Where the time goes in TCP bulk receive (Linux -> ksock, tests/bench/run.py:
# tcp_peer's source on 9102). A counting profile: the functions of each layer are
# wrapped (module attributes, the ptype and inet_protos tables, the driver's
# methods) with a time.ticks_us span; every figure is INCLUSIVE (a caller's time
# holds its callees') per received segment. A calibrated wrapper's own cost per
# call is reported too: subtract it once per nested wrapped call. The first
# figure is the same transfer without any wrapper.
import json
import time
from ksock import stack
from ksock import sys as K
from ksock.kernel import softirq, timer
from ksock.kernel.time import clock
from ksock.net.core import skbuff
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import tcp, tcp_input, tcp_output, tcp_ipv4, ip_output, arp
from ksock.net.ipv4.proc import tcp as MIB
from ksock.drivers import packet
from ksock.wire import eth

DUR_MS = 2000
stack.init()
stack.add_packet_dev(IFACE, "eth0")  # noqa: F821 (defined by run.py)
stack.ip_addr_add("eth0", TGT_IP + "/24")  # noqa: F821
PEER = PEER_IP  # noqa: F821


def bench(name, value, unit):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


def connect(port):
    for _ in range(50):
        fd = K.socket(2, 1, 0)
        try:
            K.connect(fd, (PEER, port))
            return fd
        except OSError:
            K.close(fd)
            stack.serve(100)
    raise OSError(111)


buf = bytearray(65536)


def rx(ms):
    """Bytes/s and segments received in `ms` of bulk receive."""
    fd = connect(9102)
    K.recvfrom_into(fd, buf)
    s0 = MIB.InSegs
    t0 = clock.now_us()
    total = 0
    while clock.diff(clock.now_us(), t0) < ms * 1000:
        total += K.recvfrom_into(fd, buf)[0]
    dt = clock.diff(clock.now_us(), t0) / 1e6
    segs = MIB.InSegs - s0
    K.close(fd)
    stack.serve(100)
    return total / dt, segs, dt


bps, segs, dt = rx(DUR_MS)
bench("tcp rx bulk (profile run, no wrappers)", round(bps * 8 / 1e6, 2), "Mbit/s")
bench("tcp rx segments per second (no wrappers)", round(segs / dt), "segments/s")

NAMES = []
T = []
C = []
ticks_us = time.ticks_us
ticks_diff = time.ticks_diff


def span(name, f):
    k = len(NAMES)
    NAMES.append(name)
    T.append(0)
    C.append(0)

    def w(*a):
        t0 = ticks_us()
        r = f(*a)
        T[k] += ticks_diff(ticks_us(), t0)
        C[k] += 1
        return r
    return w


def wrap(obj, attr, name):
    setattr(obj, attr, span(name, getattr(obj, attr)))


# calibration: a wrapped no-op
def _nop(*a):
    return None


cal = span("calibration", _nop)
n = 20000
t0 = ticks_us()
for _ in range(n):
    _nop(1, 2)
bare = ticks_diff(ticks_us(), t0)
t0 = ticks_us()
for _ in range(n):
    cal(1, 2)
wrapped = ticks_diff(ticks_us(), t0)
bench("profile wrapper cost per call", round((wrapped - bare) / n, 2), "us")

# the layers, outermost first (K.recvfrom_into is the user's call)
wrap(K, "recvfrom_into", "recvfrom_into (syscall, all inside)")
wrap(softirq, "do_softirq", "do_softirq (rx + timers)")
wrap(softirq, "idle", "idle (poll(2) sleeping for frames)")
wrap(timer, "run_timers", "run_timers")
wrap(packet.PacketDev, "poll", "PacketDev.poll (driver rx, all inside)")
wrap(packet, "_recvmsg", "recvmsg(2) via ffi")
wrap(netdev, "netdev_alloc_skb", "netdev_alloc_skb")
wrap(netdev, "netif_receive_skb", "netif_receive_skb (all inside)")
netdev._ptypes[eth.ETH_P_IP] = span("ip_rcv (all inside)", netdev._ptypes[eth.ETH_P_IP])
tcp_ipv4.tcp_protocol.handler = span("tcp_v4_rcv (all inside)", tcp_ipv4.tcp_protocol.handler)
wrap(tcp_ipv4, "__inet_lookup_established", "__inet_lookup_established")
wrap(skbuff, "csum_partial", "csum_partial (rx verify + tx ACKs)")
wrap(skbuff, "csum_tcpudp_magic", "csum_tcpudp_magic")
wrap(tcp_input, "tcp_rcv_state_process", "tcp_rcv_state_process (all inside)")
wrap(tcp_input, "tcp_ack", "tcp_ack")
wrap(tcp_input, "tcp_data_queue", "tcp_data_queue (all inside)")
wrap(tcp_input, "_ring_put", "_ring_put (copy into the ring)")
wrap(tcp_output, "tcp_send_ack", "tcp_send_ack (all inside)")
wrap(tcp_output, "tcp_send_delayed_ack", "tcp_send_delayed_ack")
wrap(tcp_output, "tcp_transmit", "tcp_transmit (ACK build + send)")
wrap(ip_output, "ip_send_skb", "ip_send_skb (all inside)")
wrap(arp, "neigh_output", "neigh_output (all inside)")
wrap(netdev, "dev_queue_xmit", "dev_queue_xmit (all inside)")
wrap(packet, "_send", "send(2) via ffi")
wrap(skbuff, "kfree_skb", "kfree_skb")
wrap(tcp.tcp_prot, "recvmsg", "tcp_recvmsg (all inside)")
wrap(tcp, "_copy_out", "_copy_out (ring to user buffer)")
wrap(tcp, "tcp_cleanup_rbuf", "tcp_cleanup_rbuf (window updates)")
wrap(tcp, "_wait", "tcp _wait (blocked: softirq inside)")
if packet._recvmsg is None:
    bench("profile: no ffi, recvmsg(2)/send(2) not wrapped", 0, "")

bps, segs, dt = rx(DUR_MS)
bench("tcp rx bulk (profile run, wrapped)", round(bps * 8 / 1e6, 2), "Mbit/s")
bench("tcp rx segments (wrapped run)", segs, "segments")
bench("tcp rx wall time per segment (wrapped run)", round(dt * 1e6 / max(segs, 1), 2), "us")
for k in range(1, len(NAMES)):
    if C[k]:
        bench("profile %s" % NAMES[k], round(T[k] / max(segs, 1), 2), "us/segment")
        bench("profile %s calls" % NAMES[k], round(C[k] / max(segs, 1), 3), "calls/segment")
