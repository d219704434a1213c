# Boot ksock from a board description (boards/<NAME>.py, a BOARD dict):
#   from ksock import board
#   board.boot()                      # detect the board, bring eth0 up, print status
#   dev = board.attach(board.load("ESP32_W5500"))
# A description names the NIC and its wiring; this file turns it into a netdev.
import sys

# sys.platform -> the board a bare `boot()` assumes (a /ksock_board file overrides)
DEFAULT = {"linux": "UNIX", "qemu": "QEMU_MPS2_AN385", "rp2": "W5500_EVB_PICO", "esp32": "ESP32_W5500"}
BOARD_FILE = "/ksock_board"


def detect():
    """The board's name: the first line of /ksock_board (written by
    `make flash`), else the default for this sys.platform."""
    try:
        with open(BOARD_FILE) as f:
            name = f.read().strip()
        if name:
            return name
    except OSError:
        pass
    return DEFAULT.get(sys.platform, "UNIX")


def load(name=None):
    """The BOARD dict of boards/<name>.py (ENOENT when there is none)."""
    if name is None:
        name = detect()
    try:
        mod = __import__("boards." + name, None, None, ("BOARD",))
    except ImportError:
        raise OSError(2, "no board description boards/%s.py" % name)
    return mod.BOARD


def _mac(s):
    if s is None:
        return None
    return bytes(int(x, 16) for x in s.split(":"))


def make_nic(desc, name="eth0", machine=None, ifname=None):
    """A net_device for the board's NIC, not yet registered. `machine` replaces
    the machine module (tests wire a model in); `ifname` overrides the UNIX one."""
    nic = desc["nic"]
    drv = nic["driver"]
    mac = _mac(desc.get("net", {}).get("mac"))
    if drv == "packet":
        from ksock.drivers.packet import PacketDev
        return PacketDev(ifname or nic["ifname"], name, mac)
    if drv == "lan9118":
        from ksock.drivers.lan9118 import Lan9118
        return Lan9118(name, mac)
    if drv == "w5500":
        if machine is None:
            import machine
        from ksock.drivers.w5500 import W5500
        Pin = machine.Pin
        s = nic["spi"]
        spi = machine.SPI(s["id"], baudrate=s["baudrate"], polarity=s["polarity"], phase=s["phase"],
                          sck=Pin(s["sck"]), mosi=Pin(s["mosi"]), miso=Pin(s["miso"]))
        cs = Pin(nic["cs"], Pin.OUT, value=1)
        rst = Pin(nic["rst"], Pin.OUT, value=1) if nic.get("rst") is not None else None
        intr = Pin(nic["int"], Pin.IN, Pin.PULL_UP) if nic.get("int") is not None else None
        return W5500(spi, cs, rst=rst, intr=intr, name=name, mac=mac)
    raise OSError(19, "unknown NIC driver %r" % drv)


def attach(desc, name="eth0", ip=None, gw=None, **kw):
    """Bring the stack up on the board's NIC with the description's (or the
    given) address and default route; returns the net_device."""
    from ksock import stack
    stack.init()
    dev = stack.add_dev(make_nic(desc, name, **kw))
    net = desc.get("net", {})
    ip = ip or net.get("ip")
    gw = gw or net.get("gw")
    if ip:
        stack.ip_addr_add(name, ip)
        if gw:
            stack.ip_route_add("0.0.0.0/0", via=gw)
    return dev


def boot(name=None, **kw):
    """Detect (or name) the board, attach its NIC and print the status report."""
    desc = load(name)
    dev = attach(desc, **kw)
    from ksock.kernel import ksoftirqd
    ksoftirqd.start()  # the stack is served while the program computes (a timer tick)
    from ksock import boot as kboot
    print("board        %s (%s)" % (desc["name"], desc["nic"]["driver"]))
    kboot.print_status()
    return dev
