"""The W5500 on the rp2js board's SPI0: hil/w5500_model.py (the one model) driven
by hil/rp2js/runner.js over stdin/stdout, its wire the veth in the target's
namespace (this process runs there, a child of the runner) or no cable at all.

Messages from the runner (little-endian): 'o' len16 MOSI-bytes; 'i' max16, a read
byte the master is clocking now (answered 'd' len16 MISO-bytes: that byte and the
ones after it the model says may be fetched with it); 'c'/'r' level8 t_us32, CS and
RSTn edges on the emulated clock. To the runner: 'n' level8 when INTn changes.
Datasheet breaches the model sees go to stderr as "W5500 model violation: ...".

    python -m hil.rp2js.bridge [IFNAME]
"""
import os
import select
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, "hil")]  # w5500_model imports as on the device

import w5500_model as M  # noqa: E402


class NoCable:
    """The board's RJ45 with nothing plugged in: no carrier, frames go nowhere."""

    def carrier(self):
        return False

    def send(self, mv):
        pass

    def recv_into(self, buf):
        return 0

    def fileno(self):
        return -1


class Bridge:
    def __init__(self, wire):
        self.now = 0
        self.m = M.W5500Model(wire, strict=False, clock=lambda: self.now)
        self.wire = wire
        self.int_level = 1
        self.nviol = 0
        self.overruns = 0
        self.scratch = bytearray(1600)
        self.out = bytearray()

    def handle(self, buf):
        """Run the complete messages at the start of `buf`; returns the bytes used."""
        m = self.m
        i = 0
        n = len(buf)
        while i < n:
            t = buf[i]
            if t == 0x6F:  # 'o'
                if n - i < 3:
                    break
                ln = buf[i + 1] | buf[i + 2] << 8
                if n - i < 3 + ln:
                    break
                m.spi_out(memoryview(buf)[i + 3:i + 3 + ln])
                i += 3 + ln
            elif t == 0x69:  # 'i'
                if n - i < 3:
                    break
                k = m.read_ahead(buf[i + 1] | buf[i + 2] << 8)
                b = bytearray(k)
                m.spi_in(b)
                self.out += b"d" + struct.pack("<H", k) + b
                i += 3
            elif t in (0x63, 0x72):  # 'c', 'r'
                if n - i < 6:
                    break
                self.now = struct.unpack_from("<I", buf, i + 2)[0]
                (m.pin_cs if t == 0x63 else m.pin_rst)(buf[i + 1])
                i += 6
            else:
                raise SystemExit("rp2js bridge: bad message 0x%02x" % t)
        return i

    def service(self):
        """Frames off the wire into the chip (or dropped while socket 0 is closed),
        INTn to the runner when it changed, violations to stderr."""
        m = self.m
        if m.socks[0][0x03] != M.SOCK_MACRAW:
            while self.wire.recv_into(self.scratch):
                pass
        lv = m.int_level()
        if lv != self.int_level:
            self.int_level = lv
            self.out += bytes((0x6E, lv))
        if m.stats["rx_overrun"] != self.overruns:  # as the chip: no counter the driver can read
            self.overruns = m.stats["rx_overrun"]
            sys.stderr.write("W5500 model: RX memory full, frames dropped: %d\n" % self.overruns)
        while self.nviol < len(m.violations):
            sys.stderr.write("W5500 model violation: %s\n" % m.violations[self.nviol])
            self.nviol += 1
        if self.out:
            os.write(1, self.out)
            self.out = bytearray()


def main():
    ifname = sys.argv[1] if len(sys.argv) > 1 else None
    b = Bridge(M.PacketWire(ifname) if ifname else NoCable())
    fds = [0] + ([b.wire.fileno()] if ifname else [])
    pending = b""
    while True:
        r, _, _ = select.select(fds, [], [], 0.2)
        if 0 in r:
            data = os.read(0, 1 << 16)
            if not data:
                return
            pending += data
            used = b.handle(pending)
            pending = pending[used:]
        b.service()


if __name__ == "__main__":
    main()
