# The `network` module as MicroPython programs use it for a wired NIC, over
# ksock: network.WIZNET5K(spi, cs, rst) (ksock's W5500 driver), network.LAN()
# (the board's NIC: LAN9118 on QEMU, AF_PACKET on the unix port). ksock.run puts
# this module in sys.modules['network']. As MicroPython's lwIP NICs, active(True)
# starts DHCP unless an address was set; ifconfig('dhcp') waits up to 10 s.
#   nic = network.WIZNET5K(spi, Pin(17), Pin(20)); nic.active(True)
#   while not nic.isconnected(): time.sleep(1)
#   print(nic.ipconfig("addr4"))
from ksock import stack
from ksock.net.core import dev as _netdev
from ksock.net.ipv4 import devinet as _di, route as _rt

STAT_IDLE = 0  # status(): 0 link down, 1 link up and inactive, 2 link up and active (as WIZNET5K)
STAT_LINK = 1
STAT_UP = 2
_hostname = ["mpy-ksock"]
_DHCP_WAIT_MS = 10000  # ifconfig('dhcp'), as network_lwip.c


def hostname(name=None):
    """network.hostname([name]): sent as DHCP option 12 on the next lease."""
    if name is None:
        return _hostname[0]
    if not 0 < len(name) <= 32:
        raise ValueError("hostname too long")
    _hostname[0] = name


def ipconfig(*args, **kw):
    """network.ipconfig('dns') / ipconfig(dns='1.2.3.4'): the resolver's server."""
    if kw:
        for k, v in kw.items():
            if k == "dns":
                stack.dns_servers(v)
            elif k != "prefer":
                raise ValueError("unexpected key")
        return None
    if len(args) != 1:
        raise TypeError("must query one param")
    if args[0] == "dns":
        s = stack.dns_servers()
        return s[0] if s else "0.0.0.0"
    raise ValueError("unexpected key")


def _mask(pl):
    return _di.inet_ntoa(_di.int_to_addr((0xFFFFFFFF << (32 - pl)) & 0xFFFFFFFF if pl else 0))


def _prefix(mask):
    v = _di.addr_to_int(_di.inet_aton(mask))
    n = 0
    while v & 0x80000000:
        n += 1
        v = (v << 1) & 0xFFFFFFFF
    return n


class _NIC:
    def __init__(self, dev):
        stack.init()
        self._dev = dev
        self._static = False
        self._dhcp = None
        if _netdev.dev_get_by_name(dev.name) is None:
            _netdev.register_netdev(dev)

    def active(self, state=None):
        dev = self._dev
        if state is None:
            return bool(dev.flags & _netdev.IFF_UP)
        if state:
            if not dev.flags & _netdev.IFF_UP:
                from ksock.run import _builtins
                with _builtins():  # the AF_PACKET driver needs the interpreter's own socket
                    err = _netdev.dev_open(dev)
                if err:
                    raise OSError(-err)
            if not self._static and not _di.inet_ifaddrs(dev.name) and self._dhcp is None:
                self._dhcp_start()
        else:
            self._dhcp_stop()
            _netdev.dev_close(dev)

    def _dhcp_start(self):
        from ksock.net.ipv4 import ipconfig as ic
        self._dhcp = ic.ic_dhcp_start(self._dev.name, _hostname[0])
        self._static = False

    def _dhcp_stop(self, release=True):
        if self._dhcp is not None:
            if release:
                self._dhcp.release()
            else:
                self._dhcp.stop()
            self._dhcp = None

    def _has_dhcp4(self):
        from ksock.net.ipv4 import ipconfig as ic
        return self._dhcp is not None and self._dhcp.state in (ic.BOUND, ic.RENEWING, ic.REBINDING)

    def _carrier(self):
        c = getattr(self._dev, "carrier", None)
        if c is None and hasattr(self._dev, "ifname"):
            try:
                with open("/sys/class/net/%s/carrier" % self._dev.ifname) as f:
                    return f.read().strip() == "1"
            except OSError:
                return False
        return True if c is None else bool(c)

    def isconnected(self):
        """Link up, interface active and an IPv4 address held (lwIP's WIZNET5K)."""
        stack.serve(0)
        return self._carrier() and self.active() and bool(_di.inet_ifaddrs(self._dev.name))

    def status(self, param=None):
        if param is not None:
            raise ValueError("unknown status param")
        if not self._carrier():
            return STAT_IDLE
        return STAT_UP if self.active() else STAT_LINK

    def _addr4(self):
        a = _di.inet_ifaddrs(self._dev.name)
        if not a:
            return "0.0.0.0", "0.0.0.0"
        return _di.inet_ntoa(a[0].ifa_local), _mask(a[0].ifa_prefixlen)

    def _gw4(self):
        for net, pl, gw, dv in _rt.routes():
            if pl == 0 and dv == self._dev.name and gw is not None:
                return _di.inet_ntoa(gw)
        return "0.0.0.0"

    def _set_static(self, ip, mask, gw=None):
        self._dhcp_stop()
        self._static = True
        name = self._dev.name
        for ifa in _di.inet_ifaddrs(name):
            _di.inet_ifa_del(name, ifa.ifa_local)
        pl = _prefix(mask) if "." in str(mask) else int(mask)
        _di.inet_ifa_add(name, _di.inet_aton(ip), pl)
        if gw is not None:
            _rt.ip_route_del(_di.INADDR_ANY, 0, name)
            if gw != "0.0.0.0":
                _rt.ip_route_add(_di.INADDR_ANY, 0, name, gw)

    def ifconfig(self, cfg=None):
        """(ip, mask, gw, dns); set with such a tuple, or 'dhcp' (waits for a lease)."""
        if cfg is None:
            ip, mask = self._addr4()
            return ip, mask, self._gw4(), ipconfig("dns")
        if cfg == "dhcp":
            if not self.active():
                self.active(True)
            if self._dhcp is None:
                self._dhcp_start()
            from ksock.net.ipv4 import ipconfig as ic
            if not ic.ic_dhcp_wait(self._dhcp, _DHCP_WAIT_MS):
                raise OSError("timeout waiting for DHCP to get IP address")
            return None
        ip, mask, gw, dns = cfg
        self._set_static(ip, mask, gw)
        stack.dns_servers(dns)

    def ipconfig(self, *args, **kw):
        """ipconfig('addr4'|'gw4'|'dhcp4'|'has_dhcp4'); ipconfig(dhcp4=True,
        addr4='a.b.c.d/p' or (ip, mask), gw4='g')."""
        if not kw:
            if len(args) != 1:
                raise TypeError("must query one param")
            k = args[0]
            if k == "addr4":
                return self._addr4()
            if k == "gw4":
                return self._gw4()
            if k == "dhcp4":
                return self._dhcp is not None
            if k == "has_dhcp4":
                return self._has_dhcp4()
            raise ValueError("unexpected key")
        for k, v in kw.items():
            if k == "dhcp4":
                if v:
                    if self._dhcp is None:
                        self._dhcp_start()
                else:
                    self._dhcp_stop()
            elif k == "addr4":
                if isinstance(v, str):
                    ip, _, pl = v.partition("/")
                    self._set_static(ip, int(pl or 32))
                else:
                    self._set_static(v[0], v[1])
            elif k == "gw4":
                _rt.ip_route_del(_di.INADDR_ANY, 0, self._dev.name)
                _rt.ip_route_add(_di.INADDR_ANY, 0, self._dev.name, v)
            else:
                raise ValueError("unexpected key")

    def config(self, *args, **kw):
        """config('mac') / config('hostname'); config(mac=b'...', hostname='...')."""
        if not kw:
            if len(args) != 1:
                raise TypeError("must query one param")
            if args[0] == "mac":
                return bytes(self._dev.dev_addr)
            if args[0] == "hostname":
                return _hostname[0]
            raise ValueError("unknown config param")
        if args:
            raise TypeError("can't specify pos and kw args")
        for k, v in kw.items():
            if k == "mac":
                if len(v) != 6:
                    raise ValueError()
                if self.active():
                    raise OSError(16)  # EBUSY: as Linux, change the MAC while the link is down
                self._dev.dev_addr = bytes(v)
            elif k == "hostname":
                hostname(v)
            elif k != "trace":
                raise ValueError("unknown config param")


class WIZNET5K(_NIC):
    """A W5500 on SPI (ksock/drivers/w5500.py, MACRAW); with no arguments the
    board description's wiring (boards/<BOARD>.py)."""

    def __init__(self, spi=None, pin_cs=None, pin_rst=None, pin_intn=None, name="eth0"):
        d = _netdev.dev_get_by_name(name)
        if d is None:
            if spi is None:
                from ksock import board
                d = board.make_nic(board.load(), name)
            else:
                from ksock.drivers.w5500 import W5500
                d = W5500(spi, pin_cs, rst=pin_rst, intr=pin_intn, name=name)
        super().__init__(d)

    def regs(self):
        d = self._dev
        print("W5500 version 0x%02x link %s" % (getattr(d, "version", 0), d.link()))


class LAN(_NIC):
    """The board's Ethernet NIC (boards/<BOARD>.py): the LAN9118 on QEMU, the
    AF_PACKET netdev on the unix port (ifname= names the Linux interface)."""

    def __init__(self, id=0, ifname=None, name="eth0", **kw):
        d = _netdev.dev_get_by_name(name)
        if d is None:
            from ksock import board
            d = board.make_nic(board.load(kw.get("board")), name, ifname=ifname)
        super().__init__(d)
