"""UDP between ksock (target, in its namespace) and CPython sockets on the Linux
peer: both directions, sizes 0/1/1472, many datagrams, connected vs not,
ECONNREFUSED from ICMP, broadcast, EMSGSIZE -- with the errno Linux gives."""
import socket
import threading
import time

import pytest

from netstack import bring_up, serve_while, snmp

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500", "rp2js", "serial")


def _peer_sock(lk, port=0, bcast=False):
    with lk.peer.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if bcast:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind(("0.0.0.0" if bcast else lk.peer_ip, port))
    s.settimeout(5)
    return s


ECHO = """
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.bind(fd, ('0.0.0.0', 7777))
for _ in range(%d):
    data, addr = ks.recvfrom(fd, 2048)
    ks.sendto(fd, data, 0, addr)
ks.close(fd)
"""


def test_udp_echo_from_linux_sizes_0_1_1472(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    s = _peer_sock(lk)
    sizes = [0, 1, 100, 1472]
    got = []

    def client():
        time.sleep(0.3)
        for n in sizes:
            payload = bytes((i * 7) & 0xFF for i in range(n))
            s.sendto(payload, (lk.tgt_ip, 7777))
            data, addr = s.recvfrom(4096)
            got.append((len(data), data == payload, addr))
    th = threading.Thread(target=client)
    th.start()
    t.exec(ECHO % len(sizes), timeout=30)
    th.join()
    assert got == [(n, True, (lk.tgt_ip, 7777)) for n in sizes]
    c = snmp(t)["Udp"]
    assert c["InDatagrams"] == 4 and c["OutDatagrams"] == 4 and c["InErrors"] == 0


def test_udp_send_to_linux_unconnected_and_connected(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    s = _peer_sock(lk, 9999)
    out = t.exec("""
import ksock.sys as ks
a = ks.socket(2, 2, 0)
print(ks.sendto(a, b'unconnected', 0, (%r, 9999)))
b = ks.socket(2, 2, 0)
ks.connect(b, (%r, 9999))
print(ks.send(b, b'connected'))
print(ks.getpeername(b))
stack.serve(100)
""" % (lk.peer_ip, lk.peer_ip))
    assert out.split("\n")[:2] == ["11", "9"]
    msgs = {s.recvfrom(100)[0] for _ in range(2)}
    assert msgs == {b"unconnected", b"connected"}


# Not rp2js: at the emulator's ~1/3 real time the board binds after most of the
# 100 datagrams have gone (NoPorts), so the half-delivered floor cannot hold.
@pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500", "serial")
def test_udp_many_datagrams_from_linux_all_counted(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    s = _peer_sock(lk)
    N = 100

    def blast():
        time.sleep(0.3)
        for i in range(N):
            s.sendto(i.to_bytes(4, "big") * 50, (lk.tgt_ip, 7000))
            time.sleep(0.002)
    th = threading.Thread(target=blast)
    th.start()
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.bind(fd, ('0.0.0.0', 7000))
ks.setsockopt(fd, 1, 20, ks.struct.pack('<qq', 3, 0))  # SO_RCVTIMEO 3 s
seen = []
try:
    while True:
        d, a = ks.recvfrom(fd, 400)
        seen.append(int.from_bytes(d[:4], 'big'))
except OSError as e:
    print(e.args[0], len(seen), seen == sorted(seen))
""", timeout=60)
    th.join()
    err, n, ordered = out.split()
    assert err == "11"  # EAGAIN after SO_RCVTIMEO, as Linux
    c = snmp(t)["Udp"]
    # frames a W5500 dropped with its RX memory full: the chip counts none, its
    # model (rp2js's bridge) does
    chip = t.nic_rx_dropped() if hasattr(t, "nic_rx_dropped") else 0
    # every datagram is accounted for: delivered, dropped on a full SO_RCVBUF, or
    # sent before the bind (NoPorts: the sender cannot see when the target is ready)
    assert int(n) + c["RcvbufErrors"] + c["NoPorts"] + chip == N and ordered == "True", (n, c, chip)
    assert int(n) >= N // 2
    assert c["InDatagrams"] == int(n)


def test_udp_connected_gets_econnrefused_after_port_unreachable(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.connect(fd, (%r, 9))
ks.send(fd, b'ping')
stack.serve(300)
try:
    ks.send(fd, b'again')
    print('no error')
except OSError as e:
    print(e.args[0])
print(ks.send(fd, b'third'))  # the error is reported once
u = ks.socket(2, 2, 0)
ks.sendto(u, b'x', 0, (%r, 9))
stack.serve(300)
print(ks.sendto(u, b'y', 0, (%r, 9)))  # unconnected: never told
""" % (lk.peer_ip, lk.peer_ip, lk.peer_ip))
    assert out.split() == ["111", "5", "1"]
    assert snmp(t)["Icmp"]["InDestUnreachs"] >= 1


def test_udp_broadcast_needs_so_broadcast(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    s = _peer_sock(lk, 6666, bcast=True)
    bcast = lk.subnet + ".255"
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
try:
    ks.sendto(fd, b'b', 0, (%r, 6666))
except OSError as e:
    print(e.args[0])
ks.setsockopt(fd, 1, 6, 1)  # SO_BROADCAST
print(ks.sendto(fd, b'bcast', 0, (%r, 6666)))
stack.serve(100)
""" % (bcast, bcast))
    assert out.split() == ["13", "5"]  # EACCES, then sent
    assert s.recvfrom(100)[0] == b"bcast"


def test_udp_emsgsize_above_mtu_and_max_payload(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
for n in (1472, 1473):
    try:
        print(ks.sendto(fd, bytes(n), 0, (%r, 9999)))
    except OSError as e:
        print(-e.args[0])
chunk = bytearray(2000)  # 33 iovecs: 66000 bytes > 65507 without a 64 KB buffer (QEMU heap)
try:
    ks.sendmsg(fd, [chunk] * 33, 0, (%r, 9999))
except OSError as e:
    print(-e.args[0])
""" % (lk.peer_ip, lk.peer_ip))
    assert out.split() == ["1472", "-90", "-90"]


def test_udp_recv_peek_and_trunc_flags(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    s = _peer_sock(lk)

    def send():
        time.sleep(0.3)
        s.sendto(b"abcdefghij", (lk.tgt_ip, 7100))
    th = threading.Thread(target=send)
    th.start()
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.bind(fd, ('0.0.0.0', 7100))
print(ks.recv(fd, 4, ks.MSG_PEEK))
n, fl, a = ks.recvmsg_into(fd, [bytearray(3)], ks.MSG_TRUNC)
print(n, fl & ks.MSG_TRUNC)
try:
    ks.recv(fd, 10, ks.MSG_DONTWAIT)
except OSError as e:
    print(e.args[0])
""")
    th.join()
    assert out.split("\n")[:3] == ["b'abcd'", "10 32", "11"]
