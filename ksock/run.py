# The launcher: run any MicroPython program on ksock.
#
#   micropython -m ksock.run --iface IFACE --addr A.B.C.D/P|dhcp [--gw G] [--board NAME]
#                            [--hostname NAME] PROGRAM.py [ARGS...]
#
# Brings the stack up on IFACE (unix port: AF_PACKET through add_packet_dev; QEMU:
# the LAN9118; --board: the board loader when the tree has one), installs
# ksock's drop-in `socket` (and `select` once ksock/select.py exists) in
# sys.modules in place of the built-ins, runs PROGRAM with sys.argv set, and
# tears the stack down. The program's exception (SystemExit included) is
# re-raised afterwards, so the interpreter exits with exactly the status and
# traceback it would have given without ksock. Blocking socket calls and the
# sleeps of the `time` module run the softirq loop, so ARP, ping and timers are
# served while the program waits; a non-blocking call runs a pass before it
# answers EAGAIN, and a background thread (unix) or tick (boards) serves the
# stack while the program computes (ksock/kernel/ksoftirqd.py).
import sys

USAGE = ("usage: micropython -m ksock.run --iface IFACE --addr A.B.C.D/P|dhcp [--gw G] [--board NAME] "
         "[--hostname NAME] PROGRAM.py|MODULE [ARGS]")
DHCP_WAIT_MS = 20000  # --addr dhcp: how long the launcher waits for a lease


def parse_args(argv):
    """(options dict, program, its args); raises ValueError on a bad command line."""
    opt = {"iface": None, "addr": None, "gw": None, "board": None, "hostname": None}
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        a = argv[i]
        key, eq, val = a[2:].partition("=")
        if key not in opt:
            raise ValueError("unknown option " + a)
        if not eq:
            i += 1
            if i >= len(argv):
                raise ValueError("option %s needs a value" % a)
            val = argv[i]
        opt[key] = val
        i += 1
    if i >= len(argv):
        raise ValueError("no program given")
    return opt, argv[i], argv[i + 1:]


class _builtins:
    """While the stack opens its devices, `socket` and `select` must be the
    interpreter's own (the AF_PACKET driver and the softirq poll use them), even
    when a drop-in socket.py/select.py shadows them on sys.path: MicroPython
    1.25 looks in sys.modules first, then non-extensible built-ins, then
    sys.path, then extensible built-ins (socket, select); `usocket`/`uselect`
    always name the built-in."""

    def __enter__(self):
        self.saved = {}
        for n in ("socket", "select"):
            self.saved[n] = sys.modules.get(n)
            try:
                sys.modules[n] = __import__("u" + n)
            except ImportError:
                pass
        return self

    def __exit__(self, *a):
        for n, m in self.saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def bring_up(iface=None, addr=None, gw=None, board=None, hostname=None):
    """Start the stack: lo always; the NIC as eth0 with addr (CIDR) and a default
    route via gw. --board NAME: the NIC, address and gateway of boards/NAME.py
    (ksock.board), --iface/--addr/--gw overriding them. addr "dhcp": a lease
    (address, router, DNS servers) from ipconfig's DHCP client instead."""
    from ksock import stack
    dhcp = addr == "dhcp"
    if dhcp:
        addr = gw = None
    elif addr and "/" not in addr:
        addr += "/24"
    with _builtins():
        stack.init()
        if board:
            from ksock import board as _board
            kw = {"ifname": iface} if iface else {}
            desc = _board.load(board)
            if dhcp:  # the board file's MAC, not its static address
                desc = dict(desc, net={"mac": desc.get("net", {}).get("mac")})
            _board.attach(desc, ip=addr, gw=gw, **kw)
        elif iface:
            if sys.platform == "linux":
                stack.add_packet_dev(iface, "eth0")
            elif sys.platform == "qemu":
                from ksock.drivers.lan9118 import Lan9118
                stack.add_dev(Lan9118("eth0"))
            else:
                raise OSError("--iface: no driver for platform %s (use --board)" % sys.platform)
    if addr and iface and not board:
        stack.ip_addr_add("eth0", addr)
        if gw:
            stack.ip_route_add("0.0.0.0/0", via=gw)
    _background()
    if dhcp:
        _dhcp("eth0", hostname)


def _dhcp(dev, hostname):
    from ksock.net.ipv4 import ipconfig as ic, devinet
    c = ic.ic_dhcp_start(dev, hostname)
    if not ic.ic_dhcp_wait(c, DHCP_WAIT_MS):
        raise OSError(110, "no DHCP lease on %s in %d s" % (dev, DHCP_WAIT_MS // 1000))
    ntoa = devinet.inet_ntoa
    print("ksock.run: %s %s/%d by DHCP, router %s, dns %s, lease %d s" % (
        dev, ntoa(c.addr), c.prefixlen, c.router and ntoa(c.router) or "-",
        ",".join(ntoa(d) for d in c.dns) or "-", c.lease))


def _background():
    """Serve the stack while the program computes or blocks outside ksock
    (kernel/ksoftirqd.py: a thread on the unix port, a tick on boards)."""
    from ksock.kernel import ksoftirqd
    ksoftirqd.start()


def env_up():
    """Bring-up from the environment, for a `socket.py` that shadows the built-in
    on sys.path (how MicroPython's own test suites are pointed at ksock):
    KSOCK_IFACE, KSOCK_ADDR (CIDR), KSOCK_GW, KSOCK_BOARD; idempotent."""
    from ksock import stack
    if stack._up[0]:
        return
    import os
    g = os.getenv
    bring_up(g("KSOCK_IFACE"), g("KSOCK_ADDR"), g("KSOCK_GW"), g("KSOCK_BOARD"))
    if hasattr(sys, "atexit"):
        sys.atexit(tear_down)  # no launcher around the program: tear down when it ends


def _tcp_busy():
    """A TCP sock still has data or a FIN to deliver (FIN_WAIT1, CLOSING,
    LAST_ACK, or data unacked in ESTABLISHED/CLOSE_WAIT). Walks the hash
    itself: the /proc/net/tcp text of a few hundred TIME_WAIT socks did not
    fit the default heap."""
    try:
        from ksock.net.ipv4 import tcp_ipv4
    except ImportError:
        return False
    for chain in tcp_ipv4.ehash:
        for e in chain or ():
            st = e.sk_state
            if st in (4, 9, 11) or (st in (1, 8) and e.write_seq - e.snd_una > 0):
                return True
    return False


def drain(max_ms=3000):
    """What the kernel does after a process exits: its closed sockets still send
    what was queued and their FIN. Here the stack lives in the process, so it
    runs on (at most max_ms) until that is done."""
    from ksock.kernel import softirq
    softirq.wait_event(lambda: not _tcp_busy(), max_ms)


def tear_down():
    """Close every ksock fd (as exit(2) does), let queued data and FINs go out,
    then close every device: nothing stays open behind the program."""
    from ksock.fs import fdtable
    from ksock.net.core import dev as netdev
    from ksock.kernel import ksoftirqd
    ksoftirqd.stop()  # the stack is ours alone from here (drain serves it)
    fdtable.close_range(0, 0x7FFFFFFF)
    drain()
    for d in netdev.netdevs():
        netdev.dev_close(d)


class _time:
    """The `time` module with sleeps that serve the network meanwhile (and ticks
    from ksock.compat on a firmware built without `time`, as the QEMU board's)."""

    def __init__(self, t):
        if t is None:
            from ksock import compat
            t = compat
            names = ("ticks_ms", "ticks_us", "ticks_diff", "ticks_add")
        else:
            names = [k for k in dir(t) if not k.startswith("__") and not k.startswith("sleep")]
        for k in names:
            setattr(self, k, getattr(t, k))
        self.__name__ = "time"

    def sleep_ms(self, ms):
        from ksock.kernel import softirq
        softirq.run_for(int(ms))

    def sleep(self, s):
        self.sleep_ms(s * 1000)

    def sleep_us(self, us):
        self.sleep_ms(us // 1000)


def install():
    """Put the drop-in modules in place of the built-ins (sys.modules wins every
    import that follows)."""
    import ksock.socket as ksocket
    sys.modules["socket"] = ksocket
    sys.modules["usocket"] = ksocket
    try:
        import ksock.select as kselect
    except ImportError:
        kselect = None
    if kselect is not None:
        sys.modules["select"] = kselect
        sys.modules["uselect"] = kselect
    try:
        import time
    except ImportError:
        time = None
    sys.modules["time"] = sys.modules["utime"] = _time(time)
    sys.modules["network"] = __import__("ksock.network", None, None, ("WIZNET5K",))  # network.LAN/WIZNET5K


def run_program(path, args):
    """Run PROGRAM as __main__: a file, or (no .py suffix) a module, e.g. one
    frozen into the firmware, which costs no heap to compile (boards)."""
    sys.argv[:] = [path] + list(args)
    import gc
    gc.collect()
    if not path.endswith(".py"):
        __import__(path)
        return
    d = path.rpartition("/")[0]
    sys.path[0:0] = [d or "."]  # as `micropython PROGRAM.py`: its directory first
    g = {"__name__": "__main__", "__file__": path}
    with open(path) as f:
        src = f.read()
    try:
        code = compile(src, path, "exec")  # tracebacks name the program's file
    except NameError:  # a firmware built without compile()
        code = src
    exec(code, g)


def main(argv):
    try:
        opt, prog, args = parse_args(argv)
    except ValueError as e:
        print("ksock.run: %s\n%s" % (e.args[0], USAGE))
        raise SystemExit(2)
    try:
        import micropython
        micropython.kbd_intr(3)  # `-m` skips the SIGINT handler a script gets: Ctrl-C -> KeyboardInterrupt
    except (ImportError, AttributeError):
        pass
    bring_up(opt["iface"], opt["addr"], opt["gw"], opt["board"], opt["hostname"])
    install()
    try:
        run_program(prog, args)
    finally:
        tear_down()


if __name__ == "__main__":
    main(sys.argv[1:])
