"""ksock's DHCP client (ksock/net/ipv4/ipconfig.py) against dnsmasq in the peer
namespace: a lease configures address, default route and DNS servers; T1
renews by unicast; with the server gone T2 rebinds by broadcast and the server's
return ends it; expiry deconfigures; a NAK restarts; an address someone else
holds is DECLINEd after the ARP probe and the next offer taken."""
import socket
import time

import pytest

from dnsmasq import Dnsmasq, up_noaddr
from netstack import peer

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu", "unix-w5500")


@pytest.fixture
def dhcp(netns_target):
    t, lk = netns_target
    d = Dnsmasq(lk)
    try:
        yield t, lk, d
    finally:
        d.close()


def _exec_lease(t, start, timeout):
    t.exec(start)
    ok = t.eval("ic.ic_dhcp_wait(c, %d)" % timeout, timeout=timeout / 1000 + 30)
    return ok, t.eval("lease(c)")


def test_init_discover_lease_configures_addr_route_dns(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, ls = _exec_lease(t, "c = ic.ic_dhcp_start('eth0', hostname='kboard')", 15000)
    assert ok, d.log()
    st, addr, pl, router, dns, lt, t1, t2 = ls
    assert st == "BOUND" and pl == 24 and router == lk.peer_ip and dns == [lk.peer_ip]
    assert lt == 120 and t1 == 60 and t2 == 105  # dnsmasq: 2m lease, T1 = 1/2, T2 = 7/8
    n = int(addr.rsplit(".", 1)[1])
    assert addr.startswith(lk.subnet + ".") and 50 <= n <= 59
    assert t.eval("hist(c)") == ["SELECTING", "REQUESTING", "PROBING", "BOUND"]
    assert t.eval("[(ntoa(a), p, g and ntoa(g), dv) for a, p, g, dv in route.routes() if dv == 'eth0']") == [
        (lk.subnet + ".0", 24, None, "eth0"), ("0.0.0.0", 0, lk.peer_ip, "eth0")]
    assert t.eval("[ntoa(s) for s in ic.dns_servers()]") == [lk.peer_ip]
    # dnsmasq recorded our MAC, hostname (option 12) and client id (option 61: 01 + MAC)
    leases = d.leases()
    assert len(leases) == 1
    _, mac, ip, host, cid = leases[0]
    assert mac == lk.tgt_mac and ip == addr and host == "kboard" and cid == "01:" + lk.tgt_mac
    # the leased address answers the peer (ARP + ICMP echo through ksock)
    r = _ping_while_serving(t, lk, addr)
    assert r.returncode == 0, r.stdout + r.stderr


def _ping_while_serving(t, lk, addr):
    from netstack import serve_while
    return serve_while(t, 2500, lambda: peer(lk, "ping", "-c", "1", "-W", "2", addr, check=False))


def test_bound_t1_renews_by_unicast_then_bound(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, first = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    req0 = t.eval("ic.counters.Request")
    t.exec("clk.skip(60 * 1000); stack.serve(500)")  # T1
    assert t.eval("lease(c)")[0] == "BOUND"
    assert t.eval("hist(c)")[-2:] == ["RENEWING", "BOUND"]
    assert t.eval("ic.counters.Request") == req0 + 1  # one REQUEST, answered at once
    assert t.eval("lease(c)")[1] == first[1]
    assert "DHCPREQUEST(%s) %s" % (lk.peer_if, first[1]) in d.log()


def test_renewing_server_gone_t2_rebinds_then_server_back_bound(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, first = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    d.stop()
    t.exec("clk.skip(60 * 1000); stack.serve(300)")  # T1: unicast REQUEST, unanswered
    assert t.eval("hist(c)")[-1] == "RENEWING"
    # RENEWING retransmits no sooner than 60 s (RFC 2131 4.4.5): T2 (105 s) comes first
    d.start()
    t.exec("clk.skip(46 * 1000); stack.serve(500)")  # past T2: broadcast REQUEST, the server is back
    assert t.eval("lease(c)")[0] == "BOUND", d.log()
    assert t.eval("hist(c)")[-4:] == ["BOUND", "RENEWING", "REBINDING", "BOUND"]
    assert t.eval("lease(c)")[1] == first[1]


def test_rebinding_no_server_lease_expires_deconfigures(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, first = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    addr = first[1]
    # a TCP connection from the leased address to the peer, which must not outlive it
    with lk.peer.entered():
        srv = socket.socket()
    srv.bind((lk.peer_ip, 7070))
    srv.listen()
    try:
        t.exec("import ksock.sys as ks\nfd = ks.socket(2, 1, 0)\nks.connect(fd, (%r, 7070))" % lk.peer_ip,
               timeout=30)
        d.stop()
        t.exec("clk.skip(121 * 1000); stack.serve(300)")
        assert t.eval("ic.counters.Expired") == 1
        assert t.eval("[ntoa(i.ifa_local) for i in devinet.inet_ifaddrs('eth0')]") == []
        assert t.eval("[r for r in route.routes() if r[3] == 'eth0']") == []
        assert t.eval("ic.dns_servers()") == []
        assert t.eval("hist(c)")[-2:] == ["INIT", "SELECTING"]
        out = t.exec("try:\n ks.send(fd, b'x')\nexcept OSError as e:\n print(e.args[0])")
        assert out.strip() == "103"  # ECONNABORTED
    finally:
        srv.close()


def test_rebooting_foreign_address_nak_restarts_discover(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, ls = _exec_lease(t, "c = ic.ic_dhcp_start('eth0', requested=bytes((10, 99, 99, 99)))", 15000)
    assert ok, d.log()
    assert t.eval("ic.counters.Nak") == 1
    assert t.eval("hist(c)") == ["INIT-REBOOT", "REBOOTING", "INIT", "SELECTING", "REQUESTING", "PROBING",
                                 "BOUND"]
    assert ls[1].startswith(lk.subnet + ".")


def test_rebooting_remembered_address_acked(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, first = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    ok, again = _exec_lease(t, "c.stop(); c = ic.ic_dhcp_start('eth0', requested=c.requested)", 15000)
    assert ok and again[1] == first[1]
    assert t.eval("hist(c)") == ["INIT-REBOOT", "REBOOTING", "PROBING", "BOUND"]


def test_renewing_server_renumbered_nak_then_new_lease(dhcp):
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, first = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    d.stop()
    d.start(dhcp_range=(lk.subnet + ".100", lk.subnet + ".109"))  # the network was renumbered
    t.exec("clk.skip(60 * 1000); stack.serve(500)")
    assert t.eval("ic.ic_dhcp_wait(c, 10000)") is True, d.log()
    assert t.eval("ic.counters.Nak") == 1
    new = t.eval("lease(c)")[1]
    assert 100 <= int(new.rsplit(".", 1)[1]) <= 109
    assert t.eval("[ntoa(i.ifa_local) for i in devinet.inet_ifaddrs('eth0')]") == [new]
    assert "RENEWING" in t.eval("hist(c)")


def test_probing_address_in_use_decline_then_next_offer(dhcp):
    t, lk, d = dhcp
    taken = lk.subnet + ".50"
    peer(lk, "ip", "addr", "add", taken + "/32", "dev", lk.peer_if)  # another host holds .50
    d.start(dhcp_range=(lk.subnet + ".60", lk.subnet + ".60"),
            extra=["--dhcp-host=%s,%s" % (lk.tgt_mac, taken)])  # ...which dnsmasq gives us first
    up_noaddr(t, lk)
    ok, ls = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 20000)
    assert ok, d.log()
    assert t.eval("ic.counters.Conflicts") == 1 and t.eval("ic.counters.Decline") == 1
    assert ls[1] == lk.subnet + ".60"
    assert "DHCPDECLINE(%s) %s" % (lk.peer_if, taken) in d.log()
    h = t.eval("hist(c)")
    assert h[:5] == ["SELECTING", "REQUESTING", "PROBING", "INIT", "SELECTING"] and h[-1] == "BOUND"


# ---- a crafted server: malformed and foreign replies before the real ones ------------

def _dhcp_reply(req, mtype, yiaddr, server, opts=b"", xid=None, chaddr=None, op=2, cookie=b"\x63\x82\x53\x63"):
    xid = req[4:8] if xid is None else xid
    chaddr = req[28:44] if chaddr is None else chaddr
    hdr = bytes((op, 1, 6, 0)) + xid + bytes(2) + req[10:12] + bytes(4) + socket.inet_aton(yiaddr) + \
        socket.inet_aton(server) + bytes(4) + chaddr + bytes(192)
    o = b"\x35\x01" + bytes((mtype,)) + opts
    return hdr + cookie + o + b"\xff"


def _opts(server, mask="255.255.255.0", lease=600, extra=b""):
    import struct
    o = b"\x36\x04" + socket.inet_aton(server) if server else b""
    return o + b"\x01\x04" + socket.inet_aton(mask) + b"\x33\x04" + struct.pack(">I", lease) + extra


class CraftedDhcp:
    def __init__(self, lk):
        import threading
        self.lk = lk
        with lk.peer.entered():
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, lk.peer_if.encode())
        self.s.bind(("0.0.0.0", 67))
        with lk.peer.entered():
            self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.other.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, lk.peer_if.encode())
        self.other.bind(("0.0.0.0", 6767))
        self.s.settimeout(0.2)
        self.stop = False
        self.seen = []
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def send(self, b):
        self.s.sendto(b, ("255.255.255.255", 68))
        time.sleep(0.02)

    def run(self):
        lk = self.lk
        me, offer = lk.peer_ip, lk.subnet + ".77"
        while not self.stop:
            try:
                req, _ = self.s.recvfrom(2048)
            except socket.timeout:
                continue
            i = req.find(b"\x35\x01", 240)
            mt = req[i + 2]
            self.seen.append(mt)
            if mt == 1:  # DISCOVER: nine bad OFFERs, then a good one
                good = _opts(me)
                self.send(_dhcp_reply(req, 2, offer, me, good, xid=b"\x00\x00\x00\x01"))  # another xid
                self.send(_dhcp_reply(req, 2, offer, me, good, chaddr=b"\x02" * 6 + bytes(10)))  # another client
                self.send(_dhcp_reply(req, 2, offer, me, good, op=1))  # a request, not a reply
                self.send(_dhcp_reply(req, 2, offer, me, good, cookie=b"\x00\x00\x00\x00"))  # no magic cookie
                self.send(_dhcp_reply(req, 2, offer, me, b"\x0c\xc8abc"))  # an option running past the end
                self.send(_dhcp_reply(req, 2, offer, me, _opts(None)))  # an OFFER without server id
                self.send(_dhcp_reply(req, 2, offer, me, good)[:200])  # cut inside the header
                self.send(_dhcp_reply(req, 2, offer, me, good).replace(b"\x35\x01\x02", b"\x35\x02\x02\x02"))
                self.other.sendto(_dhcp_reply(req, 2, offer, me, good), ("255.255.255.255", 68))  # not from 67
                time.sleep(0.02)
                self.send(_dhcp_reply(req, 2, offer, me, good))
            elif mt == 3:  # REQUEST: an ACK from a server we did not choose, then ours, T1 > T2 (bogus)
                self.send(_dhcp_reply(req, 5, offer, "10.9.9.9", _opts("10.9.9.9")))
                self.send(_dhcp_reply(req, 5, offer, me, _opts(me, extra=b"\x3a\x04\x00\x00\x01\x00"
                                                                       b"\x3b\x04\x00\x00\x00\x10")))

    def close(self):
        self.stop = True
        self.th.join()
        self.s.close()
        self.other.close()


def test_selecting_malformed_and_foreign_replies_ignored_then_lease(netns_target):
    t, lk = netns_target
    srv = CraftedDhcp(lk)
    try:
        up_noaddr(t, lk)
        ok, ls = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
        assert ok, (srv.seen, t.eval("hist(c)"))
        assert list(ls[:3]) == ["BOUND", lk.subnet + ".77", 24]
        assert list(ls[5:]) == [600, 300, 525]  # T1 > T2 given: RFC 2131's defaults instead
        assert t.eval("ic.counters.Ignored") == 10  # 9 bad OFFERs, 1 ACK from another server
        assert srv.seen[:2] == [1, 3]
        assert t.eval("hist(c)") == ["SELECTING", "REQUESTING", "PROBING", "BOUND"]
    finally:
        srv.close()


def test_bound_offlink_destination_via_default_router(dhcp):
    t, lk, d = dhcp
    far = "198.51.100.%d" % (int(lk.subnet.rsplit(".", 1)[1]) % 250 + 1)
    peer(lk, "ip", "link", "set", "lo", "up")
    peer(lk, "ip", "addr", "add", far + "/32", "dev", "lo")  # an address beyond the router (its own)
    d.start()
    up_noaddr(t, lk)
    ok, ls = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    with lk.peer.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((far, 9999))
    s.settimeout(5)
    try:
        t.exec("import ksock.sys as ks\nu = ks.socket(2, 2, 0)\nks.sendto(u, b'far away', 0, (%r, 9999))\n"
               "stack.serve(300)" % far)
        data, src = s.recvfrom(100)
        assert data == b"far away" and src[0] == ls[1]
        # sent to the router's MAC: ksock resolved only the router, never the far host
        arp = t.eval("stack.proc_net('arp')")
        assert lk.peer_ip + " " in arp and far not in arp
    finally:
        s.close()


def test_bound_address_claimed_defend_once_then_decline_and_new_lease(dhcp):
    from scapy.all import ARP, Ether, sendp  # noqa: import late: scapy is slow to import
    t, lk, d = dhcp
    d.start()
    up_noaddr(t, lk)
    ok, first = _exec_lease(t, "c = ic.ic_dhcp_start('eth0')", 15000)
    assert ok
    addr = first[1]
    thief = "02:00:00:00:be:ef"
    claim = Ether(src=thief, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=thief, psrc=addr, pdst=addr)
    with lk.peer.entered():
        sendp(claim, iface=lk.peer_if, verbose=False)
    t.exec("stack.serve(200)")
    assert t.eval("(ic.counters.Defends, lease(c)[0], lease(c)[1])") == (1, "BOUND", addr)  # defended
    with lk.peer.entered():
        sendp(claim, iface=lk.peer_if, verbose=False)  # again within DEFEND_INTERVAL: give it up
    t.exec("stack.serve(200)")
    assert t.eval("ic.counters.Decline") == 1
    assert t.eval("[ntoa(i.ifa_local) for i in devinet.inet_ifaddrs('eth0')]") == []
    assert t.eval("ic.ic_dhcp_wait(c, 10000)") is True, d.log()
    assert t.eval("lease(c)")[1] != addr  # dnsmasq keeps a declined address out of use
    assert "DHCPDECLINE(%s) %s" % (lk.peer_if, addr) in d.log()
