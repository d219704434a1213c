"""ksock on a veth at the kernel's default offloads (docs/ip.md "Offloads"): the
Linux peer sends partial checksums and TSO superframes; ksock reads them
through the virtio-net header (or PACKET_AUXDATA, or the socket object's recv
where there is no ffi), trusts what the host left partial, cuts superframes
into MSS segments, and still verifies frames nobody vouched for. Each traffic
test runs the same client program against the Linux kernel as the reference."""
import binascii
import fcntl
import hashlib
import os
import select
import socket
import struct
import threading
import time

import pytest

from hil import netns
from hil.plugin import require_env
from netstack import ATTACH, UP, bring_up, snmp

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "unix-w5500")

# How the target's packet driver is brought up: the virtio-net header (default),
# the PACKET_AUXDATA fallback, and the path of interpreters without ffi.
MODES = {
    "vnet": None,
    "auxdata": "from ksock.drivers.packet import PacketDev\nstack.add_dev(PacketDev(%r, 'eth0', vnet_hdr=False))",
    "noffi": "from ksock.drivers import packet\npacket._recvmsg = packet._send = None\n"
             "stack.add_dev(packet.PacketDev(%r, 'eth0'))",
}
# the fallbacks are the packet driver's: not on the W5500 model's target
PARAMS = ["vnet"] + [pytest.param(m, marks=pytest.mark.targets("unix", "unix-nocmod")) for m in ("auxdata", "noffi")]
DEV = "__import__('ksock.net.core.dev').net.core.dev.dev_get_by_name('eth0')"


def _up(t, lk, mode):
    if mode == "vnet":
        bring_up(t, lk)
        return
    t.exec(UP % {"attach": MODES[mode] % lk.tgt_if, "ip": lk.tgt_ip, "prefix": lk.prefix, "gw": lk.peer_ip})


def _offload_stats(t):
    """(partial checksums seen, superframes seen) by the target's NIC path."""
    if t.nic_driver == "w5500":
        s = t.eval(DEV + ".board.wire.stats")
        return s["csum_filled"], s["gso"]
    return t.eval("(lambda d: (d.rx_csum_partial, d.rx_gso_frames))(%s)" % DEV)


@pytest.fixture
def linux_target(netns_ok):
    """The reference: a veth pair whose target end belongs to the Linux kernel."""
    require_env(*netns_ok)
    lk = netns.Link()
    lk.tgt.run("ip", "addr", "add", "%s/%d" % (lk.tgt_ip, lk.prefix), "dev", lk.tgt_if)
    yield lk
    lk.delete()


def _bg(fn, *a):
    box = {}

    def run():
        try:
            box["r"] = fn(*a)
        except BaseException as e:  # noqa: B902 - re-raised in the test thread
            box["e"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()

    def join(timeout=300):
        th.join(timeout)
        assert not th.is_alive(), "peer thread still running"
        if "e" in box:
            raise box["e"]
        return box.get("r")
    return join


# ---- UDP echo of 1472-byte datagrams, peer checksums partial ---------------------

N_UDP = 300


def _dgram(i):
    return (i.to_bytes(4, "big") * 368)[:1472]


def udp_echo_client(lk):
    """The client program: N full-size datagrams, each echoed back intact."""
    with lk.peer.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    time.sleep(0.3)
    good = 0
    for i in range(N_UDP):
        s.sendto(_dgram(i), (lk.tgt_ip, 7777))
        d, a = s.recvfrom(4096)
        good += d == _dgram(i) and a == (lk.tgt_ip, 7777)
    s.close()
    return good


KSOCK_UDP_ECHO = """
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.bind(fd, ('0.0.0.0', 7777))
for _ in range(%d):
    data, addr = ks.recvfrom(fd, 2048)
    ks.sendto(fd, data, 0, addr)
ks.close(fd)
"""


@pytest.mark.parametrize("mode", PARAMS)
def test_udp_echo_1472_from_peer_with_partial_checksums(netns_target, mode):
    t, lk = netns_target
    _up(t, lk, mode)
    join = _bg(udp_echo_client, lk)
    t.exec(KSOCK_UDP_ECHO % N_UDP, timeout=120)
    assert join() == N_UDP
    c = snmp(t)["Udp"]
    assert c["InDatagrams"] == N_UDP and c["InCsumErrors"] == 0 and c["InErrors"] == 0
    partial, _ = _offload_stats(t)
    assert partial >= N_UDP  # the peer's checksums really were left partial


def test_udp_echo_1472_from_peer_with_partial_checksums_linux_reference(linux_target):
    lk = linux_target
    with lk.tgt.entered():
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((lk.tgt_ip, 7777))
    srv.settimeout(10)

    def serve():
        for _ in range(N_UDP):
            d, a = srv.recvfrom(2048)
            srv.sendto(d, a)
    join = _bg(serve)
    assert udp_echo_client(lk) == N_UDP
    join()
    srv.close()


# ---- 10 MiB from a peer sending with TSO -------------------------------------------

def _pattern(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def tso_sink_client(lk, payload):
    """The client program: connect, send it all, half-close, read the sink's
    "<bytes> <sha256>" line."""
    with lk.peer.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(60)
    deadline = time.monotonic() + 30
    while True:
        try:
            s.connect((lk.tgt_ip, 7200))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            s.close()
            with lk.peer.entered():
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(60)
            time.sleep(0.05)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    line = b""
    while not line.endswith(b"\n"):
        d = s.recv(256)
        if not d:
            break
        line += d
    s.close()
    return line.decode().split()


KSOCK_SINK = """
import ksock.sys as ks, hashlib, binascii
ls = ks.socket(2, 1, 0)
ks.setsockopt(ls, 1, 2, 1)
ks.bind(ls, ('0.0.0.0', 7200))
ks.listen(ls, 1)
fd, _ = ks.accept(ls)
h = hashlib.sha256()
buf = bytearray(16384)
mv = memoryview(buf)
total = 0
while True:
    n, _, _ = ks.recvmsg_into(fd, [buf])
    if not n:
        break
    h.update(mv[:n])
    total += n
ks.send(fd, ('%d %s\\n' % (total, binascii.hexlify(h.digest()).decode())).encode())
ks.close(fd)
ks.close(ls)
"""


def _tso_size(t):
    return (1 << 20) if t.nic_driver == "w5500" else 10 << 20  # the register model is slow


@pytest.mark.parametrize("mode", PARAMS)
def test_tcp_receive_10mib_from_peer_sending_tso(netns_target, mode):
    t, lk = netns_target
    _up(t, lk, mode)
    payload = _pattern(_tso_size(t))
    join = _bg(tso_sink_client, lk, payload)
    t.exec(KSOCK_SINK, timeout=300)
    assert join() == [str(len(payload)), hashlib.sha256(payload).hexdigest()]
    c = snmp(t)["Tcp"]
    assert c["InCsumErrors"] == 0 and c["InErrs"] == 0
    _, superframes = _offload_stats(t)
    assert superframes > 0  # the peer really sent with TSO


def test_tcp_receive_10mib_from_peer_sending_tso_linux_reference(linux_target):
    lk = linux_target
    payload = _pattern(10 << 20)
    with lk.tgt.entered():
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((lk.tgt_ip, 7200))
    ls.listen(1)
    ls.settimeout(30)

    def sink():
        c, _ = ls.accept()
        h, total = hashlib.sha256(), 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            h.update(d)
            total += len(d)
        c.sendall(("%d %s\n" % (total, h.hexdigest())).encode())
        c.close()
    join = _bg(sink)
    assert tso_sink_client(lk, payload) == [str(len(payload)), hashlib.sha256(payload).hexdigest()]
    join()
    ls.close()


# ---- superframe segmentation against Linux's software GSO --------------------------

PLEN, MSS, SEQ0 = 20500, 1000, 0xFFFFF000  # 21 segments, the last 500 bytes; seq wraps
FLAGS = 0x80 | 0x10 | 0x08 | 0x01  # CWR ACK PSH FIN
SOL_PACKET, PACKET_VNET_HDR = 263, 15


def _mac(ns, ifname):
    return bytes.fromhex(ns.run("cat", "/sys/class/net/%s/address" % ifname).strip().replace(":", ""))


def _sum16(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def superframe(dst_mac, src_mac, saddr, daddr):
    """(virtio_net_hdr, frame): a TSO superframe as the kernel's TCP would leave it:
    NEEDS_CSUM with the pseudo-header sum in the checksum field, GSO_TCPV4|ECN."""
    src, dst = socket.inet_aton(saddr), socket.inet_aton(daddr)
    opts = b"\x01\x01\x08\x0a" + struct.pack(">II", 7, 9)  # NOP NOP timestamps
    thl = 20 + len(opts)
    payload = bytes((i * 7 + 3) & 0xFF for i in range(PLEN))
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + thl + PLEN, 0x1234, 0x4000, 64, 6, 0, src, dst))
    struct.pack_into(">H", ip, 10, ~_sum16(bytes(ip)) & 0xFFFF)
    th = bytearray(struct.pack(">HHIIBBHHH", 5555, 6666, SEQ0, 1, (thl // 4) << 4, FLAGS, 512, 0, 0) + opts)
    struct.pack_into(">H", th, 16, _sum16(src + dst + struct.pack(">HH", 6, thl + PLEN)))
    frame = dst_mac + src_mac + b"\x08\x00" + bytes(ip) + bytes(th) + payload
    hdr = struct.pack("<BBHHHH", 1, 1 | 0x80, 14 + 20 + thl, MSS, 34, 16)
    return hdr, frame


def _send_vnet(ns, ifname, hdr, frame):
    with ns.entered():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.sendto(hdr + frame, (ifname, 0x0800))
    s.close()


def linux_segments(hdr, frame):
    """What Linux's own software GSO makes of the superframe: sent with the same
    header on a tap that offers no TSO and no checksum offload, read off the tap."""
    ns = netns.NetNS("g")
    try:
        with ns.entered():
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", b"ksgso0", 0x0002 | 0x1000))  # TUNSETIFF TAP|NO_PI
        ns.run("ip", "link", "set", "ksgso0", "up")
        _send_vnet(ns, "ksgso0", hdr, frame)
        out = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(out) < 21:
            if select.select([fd], [], [], 0.2)[0]:
                f = os.read(fd, 65536)
                if f[12:14] == b"\x08\x00" and f[23] == 6:
                    out.append(f)
        os.close(fd)
        return out
    finally:
        ns.delete()


RECORD = """
from ksock.net.core import dev as _netdev
_rec = []
_ip_rcv = _netdev._ptypes[0x0800]
def _tap(skb, dev):
    if skb.buf[skb.data + 9] == 6:
        _rec.append((bytes(skb.buf[skb.data - 14:skb.data + skb.len]), skb.ip_summed))
    _ip_rcv(skb, dev)
_netdev.dev_add_pack(0x0800, _tap)
"""


def _tcp_fields(f):
    th = 14 + 20
    seq, = struct.unpack_from(">I", f, th + 4)
    return seq, len(f) - th - ((f[th + 12] >> 4) << 2), f[th + 13]


def _masked(f):
    b = bytearray(f)
    b[14 + 20 + 16:14 + 20 + 18] = b"\0\0"  # the TCP checksum (trusted, left as is)
    return bytes(b)


@pytest.mark.parametrize("mode", PARAMS)
def test_gso_superframe_segments_exactly_as_linux(netns_target, mode):
    t, lk = netns_target
    _up(t, lk, mode)
    t.exec(RECORD)
    hdr, frame = superframe(_mac(lk.tgt, lk.tgt_if), _mac(lk.peer, lk.peer_if), lk.peer_ip, lk.tgt_ip)
    want = linux_segments(hdr, frame)
    # the reference means what we think: 21 segments, seq advancing by MSS (and
    # wrapping), CWR on the first only, FIN/PSH on the last only, checksums valid
    assert [_tcp_fields(f) for f in want] == [
        ((SEQ0 + i * MSS) & 0xFFFFFFFF, min(MSS, PLEN - i * MSS),
         (0x90 if i == 0 else 0x19 if i == 20 else 0x10)) for i in range(21)]
    for f in want:
        assert _sum16(f[26:34] + struct.pack(">HH", 6, len(f) - 34) + f[34:]) == 0xFFFF
    th = threading.Timer(0.3, _send_vnet, (lk.peer, lk.peer_if, hdr, frame))
    th.start()
    t.exec("stack.serve(1500)", timeout=30)
    th.join()
    got = t.eval("_rec")
    if mode == "auxdata":
        # PACKET_AUXDATA gives no gso_size: the superframe is cut at the MTU
        # (MSS 1448 with these headers), what the peer's TCP would have sent
        mss = 1500 - 20 - 32
        n = (PLEN + mss - 1) // mss
        assert [_tcp_fields(f) for f, _ in got] == [
            ((SEQ0 + i * mss) & 0xFFFFFFFF, min(mss, PLEN - i * mss),
             (0x90 if i == 0 else 0x19 if i == n - 1 else 0x10)) for i in range(n)]
        assert b"".join(f[66:] for f, _ in got) == frame[66:]
        assert {s for _, s in got} == {1}
        return
    assert len(got) == len(want)
    if t.nic_driver == "w5500":
        # the model's wire is a cable: complete frames, which the stack verifies
        assert [f for f, _ in got] == want and {s for _, s in got} == {0}
    else:
        # the driver's segments are byte for byte Linux's, the TCP checksum left
        # unfilled because the superframe was trusted (CHECKSUM_UNNECESSARY)
        assert [_masked(f) for f, _ in got] == [_masked(f) for f in want]
        assert {s for _, s in got} == {1}
        assert t.eval("(lambda d: (d.rx_gso_frames, d.rx_gso_segs))(%s)" % DEV) == (1, 21)
    assert snmp(t)["Tcp"]["InCsumErrors"] == 0


def test_gso_helper_fills_checksums_byte_identical_to_linux(netns_ok):
    """ksock.net.core.gso (shared by the driver, the W5500 model's wire and the
    impairment bridge), run on CPython, against Linux's software GSO."""
    require_env(*netns_ok)
    from ksock.net.core import gso
    hdr, frame = superframe(b"\x02" * 6, b"\x04" * 6, "10.9.0.1", "10.9.0.2")
    want = linux_segments(hdr, frame)
    hlen = gso.tcp4_hlen(frame, 0, len(frame))
    plen = gso.tcp4_payload(frame, 0, hlen)
    got = []
    for i in range(gso.tso_count(plen, MSS)):
        b = bytearray(1600)
        got.append(bytes(b[:gso.tso_segment_into(frame, 0, hlen, plen, MSS, i, b, 0)]))
    assert hlen == 66 and got == want


# ---- frames nobody vouched for are still verified ----------------------------------

def _udp_frame(dst_mac, src_mac, saddr, daddr, dport, payload, good):
    src, dst = socket.inet_aton(saddr), socket.inet_aton(daddr)
    ulen = 8 + len(payload)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 7, 0x4000, 64, 17, 0, src, dst))
    struct.pack_into(">H", ip, 10, ~_sum16(bytes(ip)) & 0xFFFF)
    u = bytearray(struct.pack(">HHHH", 5000, dport, ulen, 0) + payload)
    c = ~_sum16(src + dst + struct.pack(">HH", 17, ulen) + bytes(u)) & 0xFFFF or 0xFFFF
    struct.pack_into(">H", u, 6, c if good else c ^ 0x0101)
    return dst_mac + src_mac + b"\x08\x00" + bytes(ip) + bytes(u)


def _tcp_syn_bad(dst_mac, src_mac, saddr, daddr, dport):
    src, dst = socket.inet_aton(saddr), socket.inet_aton(daddr)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 8, 0x4000, 64, 6, 0, src, dst))
    struct.pack_into(">H", ip, 10, ~_sum16(bytes(ip)) & 0xFFFF)
    th = bytearray(struct.pack(">HHIIBBHHH", 5001, dport, 1000, 0, 0x50, 0x02, 512, 0, 0))
    c = ~_sum16(src + dst + struct.pack(">HH", 6, 20) + bytes(th)) & 0xFFFF
    struct.pack_into(">H", th, 16, c ^ 0x0101)
    return dst_mac + src_mac + b"\x08\x00" + bytes(ip) + bytes(th)


def inject_bad_then_good(lk, daddr, dst_mac):
    """The client program: a UDP datagram and a TCP SYN with wrong checksums,
    then a good datagram, as raw frames (CHECKSUM_NONE: no offload vouches)."""
    src_mac = _mac(lk.peer, lk.peer_if)
    with lk.peer.entered():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    for f in (_udp_frame(dst_mac, src_mac, lk.peer_ip, daddr, 7777, b"bad" * 100, False),
              _tcp_syn_bad(dst_mac, src_mac, lk.peer_ip, daddr, 7778),
              _udp_frame(dst_mac, src_mac, lk.peer_ip, daddr, 7777, b"good" * 100, True)):
        s.sendto(f, (lk.peer_if, 0x0800))
        time.sleep(0.05)
    s.close()


@pytest.mark.parametrize("mode", PARAMS)
def test_bad_checksum_from_untrusted_source_dropped_and_counted(netns_target, mode):
    t, lk = netns_target
    _up(t, lk, mode)
    before = snmp(t)
    th = threading.Timer(0.5, inject_bad_then_good, (lk, lk.tgt_ip, bytes.fromhex(lk.tgt_mac.replace(":", ""))))
    th.start()
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.bind(fd, ('0.0.0.0', 7777))
print(ks.recvfrom(fd, 2048)[0][:4])
ks.close(fd)
""", timeout=30)
    th.join()
    after = snmp(t)
    assert out.strip() == "b'good'"
    assert after["Udp"]["InCsumErrors"] - before["Udp"]["InCsumErrors"] == 1
    assert after["Tcp"]["InCsumErrors"] - before["Tcp"]["InCsumErrors"] == 1


def _linux_snmp(ns):
    lines = ns.run("cat", "/proc/net/snmp").splitlines()
    out = {}
    for names, vals in zip(lines[::2], lines[1::2]):
        out[names.split(":")[0]] = dict(zip(names.split()[1:], (int(v) for v in vals.split()[1:])))
    return out


def test_bad_checksum_from_untrusted_source_dropped_and_counted_linux_reference(linux_target):
    lk = linux_target
    with lk.tgt.entered():
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((lk.tgt_ip, 7777))
    srv.settimeout(5)
    before = _linux_snmp(lk.tgt)
    inject_bad_then_good(lk, lk.tgt_ip, _mac(lk.tgt, lk.tgt_if))
    assert srv.recvfrom(2048)[0][:4] == b"good"
    srv.close()
    after = _linux_snmp(lk.tgt)
    assert after["Udp"]["InCsumErrors"] - before["Udp"]["InCsumErrors"] == 1
    assert after["Tcp"]["InCsumErrors"] - before["Tcp"]["InCsumErrors"] == 1


def test_veth_offloads_not_default_fails_the_link_teardown(netns_ok, monkeypatch):
    """hil/netns.py's guard: a veth whose offloads differ from a fresh veth's fails
    the test at teardown. (Shown by changing what "default" says rather than the
    veth: nothing in the suite changes a veth's offloads.)"""
    require_env(*netns_ok)
    want = dict(netns.veth_default_features())
    assert want["tx-checksumming"] == "on" and want["tcp-segmentation-offload"] == "on"
    lk = netns.Link()
    assert netns.offload_drift([(lk.peer, lk.peer_if), (lk.tgt, lk.tgt_if)]) == []
    monkeypatch.setitem(netns._veth_defaults, "tx-checksumming", "off")
    with pytest.raises(netns.OffloadDrift, match="tx-checksumming on -> off|tx-checksumming off -> on"):
        lk.delete()
    assert lk.peer.name not in netns.sh("ip", "netns", "list")


@pytest.mark.targets("unix", "unix-nocmod")
def test_udp_gso_superframe_not_handled_dropped_and_counted(netns_target):
    """A superframe the driver cannot cut (UDP GSO, from a sender using
    UDP_SEGMENT) is dropped whole and counted in rx_dropped, never half-taken."""
    t, lk = netns_target
    bring_up(t, lk)
    src, dst = socket.inet_aton(lk.peer_ip), socket.inet_aton(lk.tgt_ip)
    ulen = 8 + 3000
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 9, 0x4000, 64, 17, 0, src, dst))
    struct.pack_into(">H", ip, 10, ~_sum16(bytes(ip)) & 0xFFFF)
    u = struct.pack(">HHHH", 5000, 7777, ulen, _sum16(src + dst + struct.pack(">HH", 17, ulen))) + bytes(3000)
    frame = _mac(lk.tgt, lk.tgt_if) + _mac(lk.peer, lk.peer_if) + b"\x08\x00" + bytes(ip) + u
    hdr = struct.pack("<BBHHHH", 1, 5, 42, 1000, 34, 6)  # NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4
    before = t.eval(DEV + ".stats.rx_dropped")
    th = threading.Timer(0.3, _send_vnet, (lk.peer, lk.peer_if, hdr, frame))
    th.start()
    out = t.exec("""
import ksock.sys as ks
fd = ks.socket(2, 2, 0)
ks.bind(fd, ('0.0.0.0', 7777))
stack.serve(1500)
try:
    ks.recvfrom(fd, 2048, 0x40)
    print('delivered')
except OSError as e:
    print('errno', e.args[0])
""", timeout=30)
    th.join()
    assert out.strip() == "errno 11"
    assert t.eval(DEV + ".stats.rx_dropped") - before == 1
    assert t.eval("(lambda d: (d.rx_gso_frames, d.rx_gso_segs))(%s)" % DEV) == (0, 0)
