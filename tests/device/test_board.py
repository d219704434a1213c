# Board descriptions (boards/*.py) and the loader that boots ksock from them
# (ksock/board.py): every description loads on the target; the W5500 boards'
# wiring reaches the driver pin for pin (through the W5500 model where it runs).
from ksock import board
import boards

KEYS = ("name", "mcu", "platform", "arch", "nic", "firmware", "flash", "serial", "net")
ARCHES = ("x64", "armv6m", "armv7m", "xtensawin", "rv32imc")


def test_every_description_loads_with_its_fields():
    for n in boards.NAMES:
        d = board.load(n)
        assert d["name"] == n and all(k in d for k in KEYS), n
        assert d["arch"] in ARCHES and d["nic"]["driver"] in ("packet", "lan9118", "w5500"), n
        assert d["flash"]["method"] in ("none", "esptool", "uf2"), n
        ip, _, p = d["net"]["ip"].partition("/")
        assert len(ip.split(".")) == 4 and 8 <= int(p) <= 30, n


def test_unknown_board_is_enoent():
    try:
        board.load("NO_SUCH_BOARD")
        assert False
    except OSError as e:
        assert e.args[0] == 2


def test_w5500_boards_pins_and_flash():
    pico = board.load("W5500_EVB_PICO")["nic"]
    s = pico["spi"]
    # WIZnet W5500-EVB-Pico: SPI0, GPIO16 MISO, 17 CSn, 18 SCLK, 19 MOSI, 20 RSTn, 21 INTn
    assert (s["id"], s["miso"], pico["cs"], s["sck"], s["mosi"], pico["rst"], pico["int"]) == (0, 16, 17, 18, 19, 20, 21)
    esp = board.load("ESP32_W5500")
    n = esp["nic"]
    used = [n["spi"][k] for k in ("sck", "mosi", "miso")] + [n["cs"], n["int"], n["rst"]]
    assert len(set(used)) == 6 and not set(used) & {6, 7, 8, 9, 10, 11, 0, 2, 12, 15}  # flash and strapping pins
    assert esp["flash"]["offset"] == 0x1000 and board.load("W5500_EVB_PICO")["flash"]["family"] == 0xE48BFF56


def test_detect_picks_this_platform_board():
    import sys
    want = {"linux": "UNIX", "qemu": "QEMU_MPS2_AN385"}.get(sys.platform)
    if want is None:
        skip("a real board: detect() reads /ksock_board")
    assert board.detect() == want
    assert board.load()["platform"] == sys.platform


def test_w5500_description_wires_driver_to_model():
    try:
        import w5500_model as M
    except ImportError:
        skip("no W5500 model on this target")
    from ksock.net.core import dev as netdev
    if netdev.skb_pool is None:
        netdev.skb_pool_init(16)
    for name in ("ESP32_W5500", "W5500_EVB_PICO"):
        desc = board.load(name)
        nic = desc["nic"]
        b = M.Board(M.ListWire())
        log = []

        class Pin:
            OUT, IN, PULL_UP = 1, 0, 2

            def __init__(self, n, mode=None, pull=None, value=None):
                self.n = n
                log.append(("pin", n, mode, pull, value))
                p = {nic["cs"]: b.cs, nic["rst"]: b.rst, nic["int"]: b.intr}.get(n)
                if p is not None and mode is not None:
                    self.value = p.value
                    self.fileno = p.fileno

        class machine:
            pass
        machine.Pin = Pin
        machine.SPI = lambda i, **kw: log.append(("spi", i, kw)) or b.spi
        dev = board.make_nic(desc, "w0", machine=machine)
        s = nic["spi"]
        spi = [e for e in log if e[0] == "spi"][0]
        assert spi[1] == s["id"] and spi[2]["baudrate"] == s["baudrate"]
        assert [spi[2][k].n for k in ("sck", "mosi", "miso")] == [s["sck"], s["mosi"], s["miso"]]
        assert ("pin", nic["cs"], Pin.OUT, None, 1) in log and ("pin", nic["int"], Pin.IN, Pin.PULL_UP, None) in log
        assert dev.ndo_open() == 0 and b.model.socks[0][0x03] == 0x42 and b.model.violations == []


def test_qemu_description_attaches_lan9118():
    import sys
    if sys.platform != "qemu":
        skip("the LAN9118 is on the QEMU board")
    dev = board.make_nic(board.load("QEMU_MPS2_AN385"), "q0")
    assert type(dev).__name__ == "Lan9118"


def test_w5500_evb_pico_nic_answers_on_spi0():
    # The board's own W5500 on the RP2040's SPI0 (a real board, or rp2js's model):
    # reset, VERSIONR/RTR, MACRAW open, then 6- and 40-byte register frames (the
    # latter through DMA, 32 bytes and more) read back what was written.
    import sys
    if sys.platform != "rp2":
        skip("the W5500-EVB-Pico's NIC")
    from ksock.drivers import w5500 as W
    import machine
    dev = board.make_nic(board.load("W5500_EVB_PICO"), "w0")
    u = machine.unique_id()
    assert dev.version == 4 and bytes(dev.dev_addr) == bytes((2,)) + bytes(u[-5:])
    assert dev.ndo_open() == 0
    got = bytearray(6)
    dev._read(W.SHAR, W.BSB_COMMON, memoryview(got))
    assert bytes(got) == bytes(dev.dev_addr)
    # socket 1's registers: 0x00..0x27 hold no pointers or commands the chip acts on
    pat = bytes((i * 37 + 5) & 0xFF for i in range(40))
    ctrl = (5 << 3)  # block 5: socket 1 registers
    dev._write(0x0004, ctrl, memoryview(pat)[4:16])   # Sn_PORT .. Sn_DPORT region
    back = bytearray(12)
    dev._read(0x0004, ctrl, memoryview(back))
    assert bytes(back) == pat[4:16]
    big = bytearray(40)
    dev._read(0x0000, ctrl, memoryview(big))  # a DMA-sized read of socket 1's registers
    assert bytes(big[4:16]) == pat[4:16]
    dev.ndo_stop()
