"""Link, ARP, IPv4 and ICMP against the real Linux kernel over a veth: ksock on
the target in its namespace, Linux (ping, ip neigh, scapy) in the peer's."""
import time

import pytest

from netstack import bring_up, serve_while, snmp, peer

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500", "rp2js", "serial")


def test_linux_ping_gets_echo_replies(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    r = serve_while(t, 3000, lambda: peer(lk, "ping", "-c", "5", "-i", "0.2", "-W", "2", lk.tgt_ip, check=False))
    assert " 5 received" in r.stdout, r.stdout + r.stderr
    c = snmp(t)
    assert c["Icmp"]["InEchos"] == 5 and c["Icmp"]["OutEchoReps"] == 5, c["Icmp"]
    assert c["Ip"]["InDelivers"] >= 5 and c["Ip"]["InHdrErrors"] == 0


def test_linux_ping_large_payload_1472_bytes(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    r = serve_while(t, 2500, lambda: peer(lk, "ping", "-c", "3", "-i", "0.2", "-s", "1472", "-M", "do",
                                          "-W", "2", lk.tgt_ip, check=False))
    assert " 3 received" in r.stdout, r.stdout + r.stderr


def test_linux_neighbour_table_learns_ksock_mac(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    serve_while(t, 1500, lambda: peer(lk, "ping", "-c", "1", "-W", "1", lk.tgt_ip, check=False))
    out = peer(lk, "ip", "neigh", "show", lk.tgt_ip).stdout
    assert lk.tgt_mac in out, out


def test_gratuitous_arp_when_address_comes_up(netns_target):
    t, lk = netns_target
    peer(lk, "sysctl", "-qw", "net.ipv4.conf.%s.arp_accept=1" % lk.peer_if)
    bring_up(t, lk)  # the address add announces itself
    t.exec("stack.serve(300)")
    out = peer(lk, "ip", "neigh", "show", lk.tgt_ip).stdout
    assert lk.tgt_mac in out, out


def test_ksock_resolves_linux_mac_with_arp(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    mac = t.eval("stack.arping(%r)" % lk.peer_ip)
    want = peer(lk, "cat", "/sys/class/net/%s/address" % lk.peer_if).stdout.strip()
    assert mac is not None and ":".join("%02x" % b for b in mac) == want
    st = t.eval("[n.nud_state for n in __import__('ksock.net.ipv4.arp').net.ipv4.arp.arp_tbl.values()]")
    assert 0x02 in st  # NUD_REACHABLE after the reply


def test_arp_for_absent_host_fails_after_retries(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    ip = lk.subnet + ".99"
    t0 = time.monotonic()
    assert t.eval("stack.arping(%r, timeout_ms=5000)" % ip) is None
    assert time.monotonic() - t0 >= 2.5  # three solicitations, 1 s apart
    c = t.eval("__import__('ksock.net.ipv4.proc').net.ipv4.proc.arp.get()")
    assert c["OutRequests"] >= 3 and c["Failed"] == 1, c


def test_proc_net_views_print(netns_target):
    t, lk = netns_target
    bring_up(t, lk)
    out = t.exec("for n in ('dev','arp','route','snmp'): print(stack.proc_net(n))")
    assert "eth0" in out and "Ip: InReceives" in out and "Icmp: InMsgs" in out
