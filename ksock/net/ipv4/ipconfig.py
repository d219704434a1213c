# DHCP client (net/ipv4/ipconfig.c's ic_dhcp_*, grown to RFC 2131's full state
# machine) with RFC 5227 address conflict detection. It runs in softirq context
# on a kernel UDP socket (sock_create_kern, port 68, bound to its device, broadcast
# allowed) and on the stack's timers, so leases run in simulated time too:
#   c = ic_dhcp_start("eth0", hostname="board"); softirq.wait_event(lambda: c.state == BOUND)
from ksock.compat import const, random32
from ksock.kernel import timer, softirq
from ksock.net import socket as _sock
from ksock.net.core import dev as netdev
from ksock.net.core.sock import sock_set_flag, SOCK_BROADCAST
from ksock.net.ipv4 import devinet, route, arp, af_inet
from ksock.wire import dhcp as W

INIT = const(0)
SELECTING = const(1)
REQUESTING = const(2)
BOUND = const(3)
RENEWING = const(4)
REBINDING = const(5)
INIT_REBOOT = const(6)
REBOOTING = const(7)
PROBING = const(8)  # RFC 5227 "checking": ACKed, not yet configured
STATE_NAMES = ("INIT", "SELECTING", "REQUESTING", "BOUND", "RENEWING", "REBINDING",
               "INIT-REBOOT", "REBOOTING", "PROBING")

# RFC 2131 4.1 / 3.1.5 and RFC 5227 1.1 timings (ms); module attributes so a
# program or test can shorten them, as sysctls would be.
RETRANS_MS = 4000  # first retransmission; doubles up to 64 s, +-1 s jitter
RETRANS_MAX_MS = 64000
JITTER_MS = 1000
REQUEST_TRIES = 4  # REQUESTING/REBOOTING: then back to INIT
RENEW_MIN_MS = 60000  # RENEWING/REBINDING retransmit no sooner than this
DECLINE_WAIT_MS = 10000  # after a DECLINE, before the next DISCOVER
PROBE_WAIT = 1000
PROBE_NUM = 3
PROBE_MIN = 1000
PROBE_MAX = 2000
ANNOUNCE_WAIT = 2000
DEFEND_INTERVAL = 10000
_CHUNK_MS = const(0x10000000)  # longer lease phases are armed in pieces (ticks wrap at 2**30)
_PRL = bytes((W.OPT_SUBNET_MASK, W.OPT_ROUTER, W.OPT_DNS, W.OPT_HOSTNAME, W.OPT_DOMAIN,
              W.OPT_BROADCAST, W.OPT_LEASE_TIME, W.OPT_T1, W.OPT_T2))
_ANY = devinet.INADDR_ANY
_BCAST = devinet.INADDR_BROADCAST
_txbuf = bytearray(W.BOOTP_MIN + 76)
_rxbuf = bytearray(576)  # RFC 2131: a client takes at least 576; we ask for no more (option 57)
_clients = {}  # dev name -> ic_dhcp
_inet_bind = getattr(af_inet, "__inet_bind")  # kernel_bind: no CAP_NET_BIND_SERVICE check


class counters:
    Discover = Offer = Request = Ack = Nak = Decline = Release = Conflicts = Defends = Ignored = Expired = 0


def _jitter(ms):
    return ms + (random32() % (2 * JITTER_MS + 1)) - JITTER_MS if JITTER_MS else ms


def _between(lo, hi):
    return lo + (random32() % (hi - lo + 1)) if hi > lo else lo


class ic_dhcp:
    """One device's client. After BOUND: addr, prefixlen, router, dns, server,
    lease/t1/t2 (s), hostname, domain. `history` lists the states it went through."""

    def __init__(self, dev, hostname=None, client_id=None, requested=None, probe=True):
        self.dev = dev
        self.mac = bytes(dev.dev_addr)
        self.hostname = hostname
        self.client_id = client_id if client_id is not None else b"\x01" + self.mac
        self.requested = requested  # remembered address: INIT-REBOOT
        self.probe = probe
        self.state = INIT
        self.history = []
        self.xid = 0
        self.addr = self.offered = None
        self.prefixlen = 0
        self.router = self.server = self.domain = None
        self.dns = []
        self.lease = self.t1 = self.t2 = 0
        self.tries = 0
        self.rto = RETRANS_MS
        self.started = 0
        self.phase = 0  # which lease timer is armed: RENEWING, REBINDING or INIT (expiry)
        self.rest = 0  # ms of the phase still to arm beyond this chunk
        self.probes = 0
        self.defended = None  # when we last defended the bound address (RFC 5227 2.4)
        self.tmr = timer.timer_list(self._timeout, None)
        self.ltmr = timer.timer_list(self._lease_timeout, None)
        self.new = None
        self.sock = None
        self._rx = False

    # ---- the socket: UDP 68 on this device, broadcast allowed ----------------------
    def _open(self):
        sock, err = _sock.sock_create_kern(2, 2, 17)
        if err:
            return err
        sk = sock.sk
        sk.sk_bound_dev_if = self.dev.ifindex  # SO_BINDTODEVICE
        sock_set_flag(sk, SOCK_BROADCAST)
        sk.sk_reuse = 1
        err = _inet_bind(sk, b"\x02\x00\x00\x44" + bytes(12), 16, af_inet.BIND_NO_CAP_NET_BIND_SERVICE)
        if err:
            _sock.sock_release(sock)
            return err
        sk.sk_data_ready = self._data_ready
        self.sock = sock
        return 0

    def _close(self):
        if self.sock is not None:
            _sock.sock_release(self.sock)
            self.sock = None

    def _set_state(self, st):
        self.state = st
        self.history.append(st)
        if len(self.history) > 16:
            del self.history[0]

    # ---- transmit -------------------------------------------------------------------
    def _send(self, mtype, daddr=_BCAST, ciaddr=_ANY, reqip=None, server=None):
        b = _txbuf
        bcast = ciaddr == _ANY and mtype in (W.DHCPDISCOVER, W.DHCPREQUEST)
        secs = min(0xFFFF, max(0, timer.ktime.clock.diff(timer.ktime.clock.now_ms(), self.started) // 1000))
        o = W.emit_into(b, W.BOOTREQUEST, self.xid, W.FLAG_BROADCAST if bcast else 0, ciaddr, self.mac, secs)
        o = W.opt_into(b, o, W.OPT_MSG_TYPE, bytes((mtype,)))
        o = W.opt_into(b, o, W.OPT_CLIENT_ID, self.client_id)
        if reqip is not None:
            o = W.opt_into(b, o, W.OPT_REQUESTED_IP, reqip)
        if server is not None:
            o = W.opt_into(b, o, W.OPT_SERVER_ID, server)
        if mtype in (W.DHCPDISCOVER, W.DHCPREQUEST):
            o = W.opt_into(b, o, W.OPT_MAX_SIZE, b"\x02\x40")  # 576
            o = W.opt_into(b, o, W.OPT_PARAM_LIST, _PRL)
            if self.hostname:
                o = W.opt_into(b, o, W.OPT_HOSTNAME, self.hostname.encode()[:63])
        b[o] = W.OPT_END
        o += 1
        while o < W.BOOTP_MIN:
            b[o] = 0
            o += 1
        name = b"\x02\x00\x00\x43" + daddr + bytes(8)
        if self.sock is None:
            return -9
        n = self.sock.ops.sendmsg(self.sock, _sock.msghdr([memoryview(b)[:o]], name, 16), 0x40)
        if n >= 0:
            setattr(counters, _CNAME[mtype], getattr(counters, _CNAME[mtype]) + 1)
        return n

    def _retransmit_in(self):
        ms = _jitter(self.rto)
        self.rto = min(self.rto * 2, RETRANS_MAX_MS)
        timer.mod_timer_in(self.tmr, max(ms, 1))

    def _discover(self):
        """INIT -> SELECTING: a new xid, DISCOVER broadcast, backoff from the start."""
        self.xid = random32()
        self.started = timer.ktime.clock.now_ms()
        self.offered = self.server = None
        self.rto = RETRANS_MS
        self.tries = 0
        self._set_state(SELECTING)
        self._send(W.DHCPDISCOVER, reqip=self.requested)
        self._retransmit_in()

    def _request(self):
        st = self.state
        if st == REQUESTING:
            self._send(W.DHCPREQUEST, reqip=self.offered, server=self.server)
        elif st == REBOOTING:
            self._send(W.DHCPREQUEST, reqip=self.requested)
        elif st == RENEWING:
            self._send(W.DHCPREQUEST, daddr=self.server, ciaddr=self.addr)
        elif st == REBINDING:
            self._send(W.DHCPREQUEST, ciaddr=self.addr)

    # ---- timers ---------------------------------------------------------------------
    def _timeout(self, _):
        st = self.state
        if st == INIT:
            self._discover()
        elif st == SELECTING:
            self._send(W.DHCPDISCOVER, reqip=self.requested)  # RFC 2131 4.1: same xid, backoff
            self._retransmit_in()
        elif st == REQUESTING or st == REBOOTING:
            self.tries += 1
            if self.tries >= REQUEST_TRIES:
                self.requested = None if st == REBOOTING else self.requested
                self._set_state(INIT)  # no answer to the REQUEST: start over
                self._discover()
                return
            self._request()
            self._retransmit_in()
        elif st == RENEWING or st == REBINDING:
            self._request()
            self._renew_retransmit()
        elif st == PROBING:
            self._probe_step()

    def _renew_retransmit(self):
        # RFC 2131 4.4.5: half the time left to T2 (RENEWING) or to expiry, at least 60 s
        left = self.rest + max(0, timer.ktime.clock.diff(self.ltmr.expires, timer.ktime.clock.now_ms()))
        timer.mod_timer_in(self.tmr, min(max(left // 2, RENEW_MIN_MS), _CHUNK_MS))

    def _arm_phase(self, phase, ms, base=None):
        """Arm the lease timer `ms` after `base` (the last expiry: phases stay on the
        lease's own schedule however late a timer ran), or after now."""
        clk = timer.ktime.clock
        self.phase = phase
        self.rest = max(0, ms - _CHUNK_MS)
        timer.mod_timer(self.ltmr, clk.add(clk.now_ms() if base is None else base, min(ms, _CHUNK_MS)))

    def _lease_timeout(self, _):
        base = self.ltmr.expires
        if self.rest:
            self._arm_phase(self.phase, self.rest, base)
            return
        ph = self.phase
        if ph == RENEWING and self.state == BOUND:
            self._set_state(RENEWING)  # T1: ask our server by unicast
            self.xid = random32()
            self._arm_phase(REBINDING, (self.t2 - self.t1) * 1000, base)
            self._request()
            self._renew_retransmit()
        elif ph == REBINDING and self.state in (BOUND, RENEWING):
            self._set_state(REBINDING)  # T2: ask any server by broadcast
            self._arm_phase(INIT, (self.lease - self.t2) * 1000, base)
            self._request()
            self._renew_retransmit()
        elif ph == INIT:
            counters.Expired += 1
            self._deconfigure()  # the lease is over: address, routes, DNS go
            self._set_state(INIT)
            self._discover()

    # ---- receive --------------------------------------------------------------------
    def _data_ready(self, sk):
        if self._rx:
            return
        self._rx = True
        try:
            while self.sock is not None:
                m = _sock.msghdr([_rxbuf])
                n = self.sock.ops.recvmsg(self.sock, m, 0x40)
                if n < 0:
                    break
                a = m.msg_name
                if a is None or a[2] != 0 or a[3] != 67:
                    counters.Ignored += 1  # servers and relays answer from port 67
                    continue
                self._input(n, bytes(a[4:8]))
        finally:
            self._rx = False

    def _input(self, n, src):
        p = W.parse(_rxbuf, n)
        if p is None or p[0] != W.BOOTREPLY or p[1] != self.xid or p[4] != self.mac:
            counters.Ignored += 1
            return
        opts = p[5]
        mt = opts.get(W.OPT_MSG_TYPE)
        sid = opts.get(W.OPT_SERVER_ID)
        if mt is None or len(mt) != 1:
            counters.Ignored += 1
            return
        mt = mt[0]
        st = self.state
        if mt == W.DHCPOFFER and st == SELECTING and sid is not None and len(sid) == 4:
            counters.Offer += 1
            self.offered = p[3]  # the first offer wins (RFC 2131 4.4.1 allows any)
            self.server = sid
            self._set_state(REQUESTING)
            self.rto = RETRANS_MS
            self.tries = 0
            self._request()
            self._retransmit_in()
        elif mt == W.DHCPACK and st in (REQUESTING, REBOOTING, RENEWING, REBINDING):
            if st == REQUESTING and sid != self.server:
                counters.Ignored += 1
                return
            counters.Ack += 1
            self._ack(p[3], opts, sid or src)
        elif mt == W.DHCPNAK and st in (REQUESTING, REBOOTING, RENEWING, REBINDING):
            if st in (REQUESTING, RENEWING) and sid is not None and sid != self.server:
                counters.Ignored += 1
                return
            counters.Nak += 1
            timer.del_timer(self.ltmr)
            self._deconfigure()  # RFC 2131 3.1.4: stop using it, start again
            self.requested = None
            self._set_state(INIT)
            self._discover()
        else:
            counters.Ignored += 1

    def _ack(self, yiaddr, opts, sid):
        mask = opts.get(W.OPT_SUBNET_MASK)
        pl = 0
        if mask is not None and len(mask) == 4:
            v = devinet.addr_to_int(mask)
            while v & 0x80000000:
                pl += 1
                v = (v << 1) & 0xFFFFFFFF
        else:
            pl = 8 if yiaddr[0] < 128 else 16 if yiaddr[0] < 192 else 24  # classful default
        lt = _u32(opts.get(W.OPT_LEASE_TIME), 0xFFFFFFFF)
        t1 = _u32(opts.get(W.OPT_T1), lt // 2)
        t2 = _u32(opts.get(W.OPT_T2), lt * 7 // 8)
        if not t1 < t2 <= lt:
            t1, t2 = lt // 2, lt * 7 // 8
        r = opts.get(W.OPT_ROUTER)
        dns = opts.get(W.OPT_DNS) or b""
        self.lease, self.t1, self.t2 = lt, t1, t2
        self.server = sid
        self.new = (yiaddr, pl, r[:4] if r and len(r) >= 4 else None,
                    [dns[i:i + 4] for i in range(0, len(dns) - 3, 4)])
        self.domain = opts.get(W.OPT_DOMAIN)
        timer.del_timer(self.tmr)
        if self.state in (RENEWING, REBINDING) and yiaddr == self.addr:
            self._bind()  # an extension of the lease we hold
            return
        self._deconfigure()
        if self.probe and PROBE_NUM > 0:
            self._set_state(PROBING)  # RFC 5227 2.1: is anybody using it?
            self.offered = yiaddr
            self.probes = 0
            _probing[self.dev.ifindex] = self
            timer.mod_timer_in(self.tmr, _between(0, PROBE_WAIT) or 1)
        else:
            self._bind()

    # ---- RFC 5227 probe -------------------------------------------------------------
    def _probe_step(self):
        if self.probes < PROBE_NUM:
            arp.arp_send(self.dev, 1, self.offered, bytes(6), _ANY)  # ARP probe: sender 0.0.0.0
            self.probes += 1
            wait = ANNOUNCE_WAIT if self.probes == PROBE_NUM else _between(PROBE_MIN, PROBE_MAX)
            timer.mod_timer_in(self.tmr, wait or 1)
            return
        _probing.pop(self.dev.ifindex, None)
        self._bind()

    def conflict(self, sha):
        """An ARP from another host claims the address we probe: DECLINE it."""
        if sha == self.mac or self.state != PROBING:
            return
        counters.Conflicts += 1
        _probing.pop(self.dev.ifindex, None)
        self._send(W.DHCPDECLINE, reqip=self.offered, server=self.server)
        self.requested = None
        self._set_state(INIT)
        timer.mod_timer_in(self.tmr, DECLINE_WAIT_MS or 1)  # RFC 2131 3.1.5: at least 10 s

    def defend(self):
        """RFC 5227 2.4 (b): another host claims our bound address. Defend once with
        an announcement; a second claim within DEFEND_INTERVAL gives it up
        (RFC 2131 3.1.5: DECLINE, then a new lease)."""
        clk = timer.ktime.clock
        now = clk.now_ms()
        counters.Conflicts += 1
        if self.defended is None or clk.diff(now, self.defended) >= DEFEND_INTERVAL:
            self.defended = now
            counters.Defends += 1
            arp.arp_announce(self.dev, self.addr)
            return
        a, sid = self.addr, self.server
        timer.del_timer(self.ltmr)
        self._deconfigure()
        self.xid = random32()
        self._send(W.DHCPDECLINE, reqip=a, server=sid)
        self.requested = None
        self.defended = None
        self._set_state(INIT)
        timer.mod_timer_in(self.tmr, DECLINE_WAIT_MS or 1)

    # ---- configure / deconfigure ----------------------------------------------------
    def _bind(self):
        addr, pl, router, dns = self.new
        name = self.dev.name
        if self.addr != addr or self.prefixlen != pl:
            self._deconfigure()
            devinet.inet_ifa_add(name, addr, pl)  # gratuitous ARP goes out: RFC 5227 announce
            self.addr, self.prefixlen = addr, pl
        if router != self.router:
            if self.router is not None:
                route.ip_route_del(_ANY, 0, name)
            if router is not None:
                route.ip_route_add(_ANY, 0, name, router)  # default route via the router
            self.router = router
        self.dns = dns
        self.requested = addr  # remembered for the next INIT-REBOOT
        self._set_state(BOUND)
        if self.lease != 0xFFFFFFFF:
            self._arm_phase(RENEWING, self.t1 * 1000)

    def _deconfigure(self):
        a = self.addr
        if a is None:
            return
        name = self.dev.name
        if self.router is not None:
            route.ip_route_del(_ANY, 0, name)
        devinet.inet_ifa_del(name, a)
        self.addr = self.router = None
        self.prefixlen = 0
        self.dns = []
        _abort_sockets(a)

    def release(self):
        """DHCPRELEASE (unicast to the server), then deconfigure and stop."""
        if self.addr is not None and self.server is not None and self.state in (BOUND, RENEWING, REBINDING):
            self._send(W.DHCPRELEASE, daddr=self.server, ciaddr=self.addr, server=self.server)
        self.stop()

    def stop(self):
        timer.del_timer(self.tmr)
        timer.del_timer(self.ltmr)
        _probing.pop(self.dev.ifindex, None)
        self._deconfigure()
        self._set_state(INIT)
        self._close()
        if _clients.get(self.dev.name) is self:
            del _clients[self.dev.name]


_CNAME = {W.DHCPDISCOVER: "Discover", W.DHCPREQUEST: "Request", W.DHCPDECLINE: "Decline",
          W.DHCPRELEASE: "Release"}
_probing = {}  # ifindex -> client in PROBING


def _u32(b, dflt):
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) if b is not None and len(b) == 4 else dflt


def _arp_seen(dev, op, sha, sip, tip):
    # RFC 5227 2.1.1: a conflict is any ARP whose sender is the address, or a
    # probe (sender 0.0.0.0) from another host for it
    c = _probing.get(dev.ifindex)
    if c is not None and (sip == c.offered or (sip == _ANY and tip == c.offered)):
        c.conflict(sha)
        return
    if sip == _ANY or sha == dev.dev_addr:
        return
    for c in _clients.values():
        if c.dev is dev and c.addr == sip and c.state in (BOUND, RENEWING, REBINDING):
            c.defend()


def _abort_sockets(addr):
    """The address is gone: TCP connections from it can never complete (as
    Android's netd does with SOCK_DESTROY): ECONNABORTED to their owners."""
    try:
        from ksock.net.ipv4 import tcp_ipv4, tcp
    except ImportError:
        return
    dead = []
    for chain in tcp_ipv4.ehash:
        for sk in chain or ():
            if getattr(sk, "inet_saddr", None) == addr and hasattr(sk, "sk_shutdown") and hasattr(sk, "snd_ring"):
                dead.append(sk)
    for sk in dead:
        sk.sk_err = 103  # ECONNABORTED
        tcp.tcp_done(sk)
        sk.sk_error_report(sk)


def ic_dhcp_start(dev_name, hostname=None, client_id=None, requested=None, probe=True):
    """Start (or restart) DHCP on a device: INIT-REBOOT with `requested`, else INIT.
    Returns the client; poll its .state or wait with ic_dhcp_wait()."""
    old = _clients.get(dev_name)
    if old is not None:
        requested = requested or old.requested
        old.stop()
    dev = netdev.dev_get_by_name(dev_name)
    if dev is None:
        raise OSError(19)  # ENODEV
    if _arp_seen not in arp.arp_rcv_hooks:
        arp.arp_rcv_hooks.append(_arp_seen)
    c = ic_dhcp(dev, hostname, client_id, requested, probe)
    err = c._open()
    if err:
        raise OSError(-err)
    _clients[dev_name] = c
    if requested:
        c.xid = random32()
        c.started = timer.ktime.clock.now_ms()
        c._set_state(INIT_REBOOT)
        c._set_state(REBOOTING)
        c._request()
        c._retransmit_in()
    else:
        c._discover()
    return c


def ic_dhcp_wait(c, timeout_ms=-1):
    """Run the stack until `c` is BOUND: True, or False after timeout_ms."""
    return softirq.wait_event(lambda: c.state == BOUND, timeout_ms)


def ic_dhcp_get(dev_name):
    return _clients.get(dev_name)


def dns_servers():
    """The DNS servers every bound lease gave, in order."""
    out = []
    for c in _clients.values():
        if c.state in (BOUND, RENEWING, REBINDING):
            for s in c.dns:
                if s not in out:
                    out.append(s)
    return out
