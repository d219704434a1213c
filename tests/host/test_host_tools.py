"""host_tools/pcap.py and host_tools/ss.py against a running target: the pcap
holds both directions of a ping as Wireshark (scapy's reader) sees them; the
socket table read over the target's line shows the sockets ksock has."""
import struct

import pytest

from host_tools import pcap, ss
from netstack import bring_up, serve_while, peer


@pytest.mark.targets("unix", "qemu", "unix-w5500")
def test_pcap_holds_both_directions_of_a_ping(netns_target, tmp_path):
    from scapy.all import rdpcap, ICMP, Ether
    t, lk = netns_target
    path = str(tmp_path / "ping.pcap")
    with pcap.Capture(lk.peer_if, path, netns=lk.peer.name):
        bring_up(t, lk)
        serve_while(t, 2000, lambda: peer(lk, "ping", "-c", "3", "-i", "0.2", "-W", "2", lk.tgt_ip, check=False))
    raw = open(path, "rb").read()
    assert struct.unpack_from("<IHHiIII", raw) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pk = rdpcap(path)
    req = [p for p in pk if ICMP in p and p[ICMP].type == 8 and p["IP"].dst == lk.tgt_ip]
    rep = [p for p in pk if ICMP in p and p[ICMP].type == 0 and p[Ether].src == lk.tgt_mac]
    assert len(req) == 3 and len(rep) == 3
    assert [p.time for p in pk] == sorted(p.time for p in pk)


@pytest.mark.targets("unix", "qemu")
def test_ss_lists_udp_sockets_over_the_line(target):
    target.exec("""
from ksock import stack
import ksock.sys as ks
stack.init()
a = ks.socket(2, 2, 0)
ks.bind(a, ('0.0.0.0', 7777))
b = ks.socket(2, 2, 0)
ks.bind(b, ('127.0.0.1', 5353))
ks.connect(b, ('127.0.0.1', 7777))
""")
    rows, absent = ss.snapshot(target, tcp=True, udp=True)
    udp = sorted(r for r in rows if r[0] == "udp")
    assert ("udp", "UNCONN", 0, 0, ("0.0.0.0", 7777), ("0.0.0.0", 0)) in udp
    assert ("udp", "ESTAB", 0, 0, ("127.0.0.1", 5353), ("127.0.0.1", 7777)) in udp
    text = ss.fmt(rows)
    assert "0.0.0.0:7777" in text and "0.0.0.0:*" in text and "127.0.0.1:5353" in text
    if "tcp" not in absent:  # TCP's table once the build has TCP: a listener shows as LISTEN
        target.exec("c = ks.socket(2, 1, 0)\nks.bind(c, ('0.0.0.0', 8080))\nks.listen(c, 5)")
        rows, _ = ss.snapshot(target, tcp=True, udp=False)
        assert [r for r in rows if r[1] == "LISTEN" and r[4] == ("0.0.0.0", 8080)], rows
