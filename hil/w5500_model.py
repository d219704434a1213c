# TEST MODEL, not a driver: a register-level model of the WIZnet W5500 (after
# its datasheet, v1.0.x) behind a fake SPI bus and fake CS/RST/INT pins, for
# running ksock.drivers.w5500 on the MicroPython unix port. Socket 0's MACRAW
# mode is bridged to a wire: AF_PACKET on a veth (PacketWire) or a list of
# frames (ListWire, for device tests). Every breach of the datasheet's rules the
# model can see raises W5500ModelError at the SPI call that made it and is kept
# in `violations`. What it checks and what only a chip can: docs/w5500.md.
import struct

try:
    from time import ticks_us, ticks_diff
except ImportError:  # CPython
    import time as _t

    def ticks_us():
        return int(_t.monotonic() * 1e6)

    def ticks_diff(a, b):
        return a - b

_VH = 10  # struct virtio_net_hdr before each frame on the packet socket (PacketWire)
BUF = 0x4000  # 16 KB of RX and 16 KB of TX memory in the chip
VERSION = 0x04
# common register reset values (datasheet 3.1 / 4.1); the rest reset to 0
_COMMON_RESET = {0x19: 0x07, 0x1A: 0xD0, 0x1B: 0x08, 0x1C: 0x00, 0x1D: 0x28, 0x39: VERSION}
_COMMON_RO = (0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x39, 0x17)  # UIPR, UPORTR, VERSIONR, SIR
_COMMON_LAST = 0x39
# socket register reset values (datasheet 4.2)
_SOCK_RESET = {0x06: 0xFF, 0x07: 0xFF, 0x08: 0xFF, 0x09: 0xFF, 0x0A: 0xFF, 0x0B: 0xFF,
               0x16: 0x80, 0x1E: 0x02, 0x1F: 0x02, 0x20: 0x08, 0x2C: 0xFF, 0x2D: 0x40}
_SOCK_RO = (0x03, 0x20, 0x21, 0x22, 0x23, 0x26, 0x27, 0x2A, 0x2B)  # SR, TX_FSR, TX_RD, RX_RSR, RX_WR
_SOCK_LAST = 0x2F
_BUF_SIZES = (0, 1, 2, 4, 8, 16)
SOCK_MACRAW = 0x42
SOCK_CLOSED = 0x00
MACRAW, MFEN, MMB, MIP6B = 0x04, 0x80, 0x20, 0x10
OPEN, CLOSE, SEND, SEND_MAC, SEND_KEEP, RECV = 0x01, 0x10, 0x20, 0x21, 0x22, 0x40
IR_RECV, IR_SENDOK = 0x04, 0x10
_KNOWN_CMDS = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x21, 0x22, 0x40)
T_RESET_US = 500   # RSTn low at least (Trc)
T_LOCK_US = 1000   # PLL lock after RSTn rises (Tpl)


class W5500ModelError(OSError):
    pass


class W5500Model:
    def __init__(self, wire, ptr_start=0, cmd_latency=1, strict=True, clock=ticks_us):
        self.wire = wire
        self.clock = clock  # us; the rp2js bridge passes the emulated board's clock
        self.ptr_start = ptr_start & 0xFFFF  # pointers as after that much traffic
        self.cmd_latency = cmd_latency  # Sn_CR reads non-zero this many times
        self.strict = strict
        self.violations = []
        self.stats = {"rx_frames": 0, "rx_filtered": 0, "rx_overrun": 0, "tx_frames": 0,
                      "spi_frames": 0, "rsr_torn": 0, "wraps": 0}
        self.rx = bytearray(BUF)
        self.tx = bytearray(BUF)
        self.frame = bytearray(1600)
        self.cs_low = False
        self.rst_low = False
        self.rst_t = None
        self.rst_up_t = None
        self.hdr = bytearray(3)
        self.nhdr = 0
        self.addr = self.bsb = self.rwb = 0
        self._hw_reset()

    # -- state ------------------------------------------------------------------
    def _hw_reset(self):
        self.common = bytearray(_COMMON_LAST + 1)
        for a, v in _COMMON_RESET.items():
            self.common[a] = v
        self.socks = [bytearray(_SOCK_LAST + 1) for _ in range(8)]
        for s in self.socks:
            for a, v in _SOCK_RESET.items():
                s[a] = v
        s0 = self.socks[0]
        for a in (0x22, 0x24, 0x28, 0x2A):  # TX_RD, TX_WR, RX_RD, RX_WR
            struct.pack_into(">H", s0, a, self.ptr_start)
        self.rx_rd = self.ptr_start
        self.cr_reads = 0
        self.cr_val = 0
        self.tx_busy = False
        self.mr_rst_reads = 0

    def violation(self, msg):
        self.violations.append(msg)
        if self.strict:
            raise W5500ModelError(5, "W5500 model: " + msg)

    def _g16(self, s, a):
        return struct.unpack_from(">H", self.socks[s], a)[0]

    def _s16(self, s, a, v):
        struct.pack_into(">H", self.socks[s], a, v & 0xFFFF)

    def _bufsize(self, reg):
        return self.socks[0][reg] * 1024

    def _rsr(self):
        # received size counts from the read pointer of the last RECV command
        return (self._g16(0, 0x2A) - self.rx_rd) & 0xFFFF

    def _fsr(self):
        return (self._bufsize(0x1F) - ((self._g16(0, 0x24) - self._g16(0, 0x22)) & 0xFFFF)) & 0xFFFF

    def phycfgr(self):
        # RST=1, OPMDC=111 (auto-negotiation); 100 Mbit/s full duplex when the wire has carrier
        return 0xB8 | (0x07 if self.wire.carrier() else 0)

    def int_asserted(self):
        c = self.common
        s0 = self.socks[0]
        return bool((c[0x18] & 1 and s0[0x02] & s0[0x2C]) or (c[0x15] & c[0x16]))

    # -- pins -------------------------------------------------------------------
    def pin_cs(self, v):
        if not v:
            if self.cs_low:
                self.violation("CS driven low twice without a rising edge")
            self._check_ready()
            self.cs_low = True
            self.nhdr = 0
        else:
            if self.cs_low and 0 < self.nhdr < 3:
                self.violation("CS rose during the address/control phase (%d of 3 bytes)" % self.nhdr)
            self.cs_low = False
            self.nhdr = 0

    def pin_rst(self, v):
        now = self.clock()
        if not v and not self.rst_low:
            self.rst_low = True
            self.rst_t = now
        elif v and self.rst_low:
            self.rst_low = False
            self._hw_reset()
            self.rst_up_t = now
            if ticks_diff(now, self.rst_t) < T_RESET_US:
                self.violation("RSTn low for %d us, the datasheet wants >= %d" % (ticks_diff(now, self.rst_t), T_RESET_US))

    def _check_ready(self):
        if self.rst_low:
            self.violation("SPI access while RSTn is low")
        if self.rst_up_t is not None:
            d = ticks_diff(self.clock(), self.rst_up_t)
            if d < T_LOCK_US:
                self.violation("SPI access %d us after RSTn rose, before the PLL lock time (%d us)" % (d, T_LOCK_US))
            self.rst_up_t = None

    def int_level(self):
        self.ingest()
        return 0 if self.int_asserted() else 1  # INTn is active low

    # -- SPI --------------------------------------------------------------------
    def spi_out(self, data):
        """Bytes the master clocked out on MOSI."""
        if not self.cs_low:
            self.violation("SPI clocked while CS is high")
        i = 0
        n = len(data)
        while i < n and self.nhdr < 3:
            self.hdr[self.nhdr] = data[i]
            self.nhdr += 1
            i += 1
            if self.nhdr == 3:
                self._start_frame()
        if i < n:
            if not self.rwb:
                self.violation("data written in a read frame (MOSI is ignored by the chip)")
            self._data_write(data, i, n)

    def spi_in(self, buf):
        """Fill `buf` with MISO bytes (the master clocks out zeros)."""
        if not self.cs_low:
            self.violation("SPI clocked while CS is high")
        i = 0
        n = len(buf)
        while i < n and self.nhdr < 3:
            buf[i] = self.nhdr + 1  # the chip shifts out 0x01 0x02 0x03 during the header
            self.hdr[self.nhdr] = 0
            self.nhdr += 1
            i += 1
            if self.nhdr == 3:
                self._start_frame()
        if i < n:
            if self.rwb:
                self.violation("data read in a write frame (MISO is undefined)")
            self._data_read(buf, i, n)

    def read_ahead(self, limit):
        """How many MISO bytes from here a remote SPI master (the rp2js bridge) may
        fetch in one go, at least 1: up to `limit`, stopping before a register whose
        read has an effect (MR, Sn_CR, Sn_IR, Sn_RX_RSR) and at the received data's
        end, so that bytes the master does not clock change nothing."""
        bsb = self.bsb
        kind = bsb & 3
        if bsb >> 2 or kind == 2:
            return limit
        if kind == 3:
            d = (self.addr - self.rx_rd) & (max(self._bufsize(0x1E), 1) - 1)
            return max(1, min(limit, self._rsr() - d))
        fx = (0x00,) if kind == 0 else (0x01, 0x02, 0x26)
        n = 1
        limit = min(limit, 8)  # register reads are 1..6 bytes
        while n < limit and (self.addr + n) & 0xFFFF not in fx:
            n += 1
        return n

    def _start_frame(self):
        h = self.hdr
        self.addr = (h[0] << 8) | h[1]
        ctrl = h[2]
        self.bsb = ctrl >> 3
        self.rwb = ctrl & 4
        self.stats["spi_frames"] += 1
        if ctrl & 3:
            self.violation("fixed-length data mode OM=%d needs CS tied low; ksock uses VDM" % (ctrl & 3))
        if self.bsb and not self.bsb & 3:
            self.violation("reserved block select 0x%02x" % self.bsb)

    def _data_write(self, data, i, n):
        bsb = self.bsb
        kind = bsb & 3
        if kind == 0 or kind == 1:
            for j in range(i, n):
                self._reg_write(bsb, self.addr, data[j])
                self.addr = (self.addr + 1) & 0xFFFF
            return
        if bsb >> 2:
            return  # sockets 1..7 have no memory here (all 16 KB are socket 0's)
        if kind == 3:
            self.violation("write to the RX buffer")
            return
        size = self._bufsize(0x1F)
        if not size:
            self.violation("TX buffer write with Sn_TXBUF_SIZE 0")
            return
        # free memory runs from TX_WR to TX_RD + size: elsewhere is unsent data
        rd = self._g16(0, 0x22)
        used = (self._g16(0, 0x24) - rd) & 0xFFFF
        d = (self.addr - rd) & (size - 1)  # the chip maps addresses modulo the buffer size
        if d < used or d + (n - i) > size:
            self.violation("TX write of %d bytes at 0x%04x outside the free region (TX_RD 0x%04x, FSR %d)"
                           % (n - i, self.addr, rd, self._fsr()))
        self.addr = self._ring_copy(self.tx, size, self.addr, data, i, n, True)

    def _data_read(self, buf, i, n):
        bsb = self.bsb
        kind = bsb & 3
        if kind == 0 or kind == 1:
            for j in range(i, n):
                buf[j] = self._reg_read(bsb, self.addr)
                self.addr = (self.addr + 1) & 0xFFFF
            return
        if bsb >> 2 or kind == 2:
            for j in range(i, n):
                buf[j] = 0
            return
        size = self._bufsize(0x1E)
        if not size:
            self.violation("RX buffer read with Sn_RXBUF_SIZE 0")
            return
        # received data runs from the last RECV's read pointer to RX_WR
        d = (self.addr - self.rx_rd) & (size - 1)
        rsr = self._rsr()
        if d + (n - i) > rsr:
            self.violation("RX read of %d bytes at 0x%04x beyond received data (RX_RD 0x%04x, RSR %d)"
                           % (n - i, self.addr, self.rx_rd, rsr))
        self.addr = self._ring_copy(self.rx, size, self.addr, buf, i, n, False)

    def _ring_copy(self, mem, size, addr, buf, i, n, into_mem):
        # the chip maps a 16-bit pointer onto its buffer modulo the buffer size
        off = addr & (size - 1)
        k = n - i
        first = min(k, size - off)
        if first < k:
            self.stats["wraps"] += 1
        mv = memoryview(buf)
        if into_mem:
            mem[off:off + first] = mv[i:i + first]
            mem[0:k - first] = mv[i + first:n]
        else:
            mv[i:i + first] = mem[off:off + first]
            mv[i + first:n] = mem[0:k - first]
        return (addr + k) & 0xFFFF

    # -- registers --------------------------------------------------------------
    def _reg_read(self, bsb, a):
        if bsb == 0:
            if a > _COMMON_LAST:
                return 0
            if a == 0x2E:
                return self.phycfgr()
            if a == 0x00 and self.mr_rst_reads:
                self.mr_rst_reads -= 1
                return 0x80  # reset still in progress
            if a == 0x17:
                return 1 if self.socks[0][0x02] else 0
            return self.common[a]
        s = bsb >> 2
        if a > _SOCK_LAST:
            return 0
        if s:
            return self.socks[s][a]
        r = self.socks[0]
        if a == 0x01:
            if self.cr_reads:
                self.cr_reads -= 1
                return self.cr_val
            return 0
        if a == 0x02:
            self.ingest()
            if self.tx_busy:  # the frame has left by the time Sn_IR is looked at
                self.tx_busy = False
                r[0x02] |= IR_SENDOK
            return r[0x02]
        if a == 0x20 or a == 0x21:
            v = self._fsr()
            return v >> 8 if a == 0x20 else v & 0xFF
        if a == 0x26:
            # high byte first; a frame landing between the two bytes tears the
            # value, which is why drivers read RSR until two reads agree
            v = self._rsr() >> 8
            before = self._rsr()
            self.ingest()
            if self._rsr() != before and (self._rsr() >> 8) != (before >> 8):
                self.stats["rsr_torn"] += 1
            return v
        if a == 0x27:
            return self._rsr() & 0xFF
        return r[a]

    def _reg_write(self, bsb, a, v):
        if bsb == 0:
            if a > _COMMON_LAST:
                self.violation("write to reserved common register 0x%04x" % a)
                return
            if a in _COMMON_RO:
                self.violation("write to read-only common register 0x%04x" % a)
                return
            if a == 0x00 and v & 0x80:
                self._hw_reset()
                self.mr_rst_reads = 1
                return
            if a == 0x15:
                self.common[a] &= ~v & 0xFF  # write 1 to clear
                return
            if a == 0x2E:
                self.common[a] = v
                return
            self.common[a] = v
            return
        s = bsb >> 2
        if a > _SOCK_LAST:
            self.violation("write to reserved socket %d register 0x%04x" % (s, a))
            return
        if a in _SOCK_RO:
            self.violation("write to read-only socket %d register 0x%04x" % (s, a))
            return
        r = self.socks[s]
        if a in (0x1E, 0x1F) and v not in _BUF_SIZES:
            self.violation("socket %d buffer size %d KB: only 0,1,2,4,8,16" % (s, v))
        if a == 0x00 and r[0x03] != SOCK_CLOSED:
            self.violation("Sn_MR written while socket %d is open" % s)
        if a == 0x02:
            r[a] &= ~v & 0xFF  # write 1 to clear
            return
        if a == 0x01:
            if s:
                self.violation("command to socket %d (ksock uses socket 0 only)" % s)
                return
            self._command(v)
            return
        r[a] = v

    def _command(self, cmd):
        r = self.socks[0]
        if self.cr_reads:
            self.violation("Sn_CR written before the chip cleared the previous command")
        if cmd not in _KNOWN_CMDS:
            self.violation("unknown socket command 0x%02x" % cmd)
        self.cr_val = cmd
        self.cr_reads = self.cmd_latency
        if cmd == OPEN:
            if r[0x00] & 0x0F != MACRAW:
                self.violation("OPEN with Sn_MR 0x%02x: ksock opens MACRAW" % r[0x00])
                return
            for reg in (0x1E, 0x1F):
                tot = sum(s[reg] for s in self.socks)
                if tot > 16:
                    self.violation("%s sizes total %d KB > 16 KB" % ("RX" if reg == 0x1E else "TX", tot))
            r[0x03] = SOCK_MACRAW
            # the pointers meet: nothing received, nothing to send
            self.rx_rd = self._g16(0, 0x28)
            self._s16(0, 0x2A, self.rx_rd)
            self._s16(0, 0x24, self._g16(0, 0x22))
        elif cmd == CLOSE:
            r[0x03] = SOCK_CLOSED
            self.tx_busy = False
        elif cmd == RECV:
            if r[0x03] != SOCK_MACRAW:
                self.violation("RECV on a socket that is not open")
            # Sn_RX_RD may only move over received data
            rd = self._g16(0, 0x28)
            if (rd - self.rx_rd) & 0xFFFF > self._rsr():
                self.violation("RECV with Sn_RX_RD 0x%04x beyond Sn_RX_WR 0x%04x" % (rd, self._g16(0, 0x2A)))
            self.rx_rd = rd
        elif cmd == SEND:
            if r[0x03] != SOCK_MACRAW:
                self.violation("SEND on a socket that is not open")
                return
            if self.tx_busy:
                self.violation("SEND before the previous frame's SENDOK was seen")
            self._send()
        elif cmd in (SEND_MAC, SEND_KEEP):
            self.violation("command 0x%02x is not valid in MACRAW mode" % cmd)

    def _send(self):
        size = self._bufsize(0x1F)
        rd = self._g16(0, 0x22)
        wr = self._g16(0, 0x24)
        n = (wr - rd) & 0xFFFF
        if n > size:
            self.violation("SEND of %d bytes > TX buffer %d" % (n, size))
            return
        if n < 14 or n > 1514:
            self.violation("MACRAW SEND of a %d-byte frame (14..1514)" % n)
        f = self.frame
        ln = min(n, len(f))
        self._ring_copy(self.tx, size, rd, f, 0, ln, False)
        if ln < 60:  # the MAC pads runts on the wire
            for j in range(ln, 60):
                f[j] = 0
            ln = 60
        self.wire.send(memoryview(f)[:ln])
        self.stats["tx_frames"] += 1
        self._s16(0, 0x22, wr)  # TX_RD catches up with TX_WR once sent
        self.tx_busy = True

    # -- the wire ---------------------------------------------------------------
    def ingest(self):
        """Take frames the wire has for us into socket 0's RX memory, as the MAC would."""
        r = self.socks[0]
        if r[0x03] != SOCK_MACRAW:
            return
        while True:
            # A superframe's segments follow each other on the cable at line rate,
            # not all at once: the next waits on the wire until the chip has room.
            held = getattr(self.wire, "held_len", None)
            if held is not None and self._bufsize(0x1E) - self._rsr() < held() + 2:
                return
            n = self.wire.recv_into(self.frame)
            if not n:
                return
            self._rx_frame(self.frame, n)

    def _rx_frame(self, f, n):
        if n < 14:
            return
        if n < 60:  # a runt on the wire arrives padded (sender's MAC)
            for j in range(n, 60):
                f[j] = 0
            n = 60
        mr = self.socks[0][0x00]
        if mr & MFEN:
            mine = f[0:6] == self.common[0x09:0x0F]
            bcast = f[0:6] == b"\xff\xff\xff\xff\xff\xff"
            mcast = f[0] & 1 and not bcast
            if not (mine or bcast or (mcast and not mr & MMB)):
                self.stats["rx_filtered"] += 1
                return
        if mr & MIP6B and f[12] == 0x86 and f[13] == 0xDD:
            self.stats["rx_filtered"] += 1
            return
        size = self._bufsize(0x1E)
        if size - self._rsr() < n + 2:
            self.stats["rx_overrun"] += 1  # no room: the chip drops the frame
            return
        mask = size - 1
        wr = self._g16(0, 0x2A)
        ln = n + 2
        self.rx[wr & mask] = ln >> 8
        self.rx[(wr + 1) & mask] = ln & 0xFF
        self._ring_copy(self.rx, size, wr + 2, f, 0, n, True)
        self._s16(0, 0x2A, wr + ln)
        self.socks[0][0x02] |= IR_RECV
        self.stats["rx_frames"] += 1


# -- fake bus and pins (machine.SPI / machine.Pin shaped) ---------------------------

class FakeSPI:
    def __init__(self, model):
        self.m = model

    def write(self, buf):
        self.m.spi_out(buf)

    def readinto(self, buf, write=0):
        self.m.spi_in(buf)

    def read(self, n, write=0):
        b = bytearray(n)
        self.m.spi_in(b)
        return bytes(b)

    def write_readinto(self, wbuf, rbuf):
        # full duplex: the header goes out (0x01 0x02 0x03 comes back), then
        # data moves in the frame's direction; MISO is zero in a write frame
        m = self.m
        k = 0
        n = len(wbuf)
        while k < n and m.nhdr < 3:
            rbuf[k] = m.nhdr + 1
            m.spi_out(wbuf[k:k + 1])
            k += 1
        if k < n:
            if m.rwb:
                m.spi_out(memoryview(wbuf)[k:])
                for j in range(k, n):
                    rbuf[j] = 0
            else:
                m.spi_in(memoryview(rbuf)[k:])


class FakePin:
    def __init__(self, set_fn=None, get_fn=None, fileno=None):
        self._set = set_fn
        self._get = get_fn
        self._v = 1
        self._fileno = fileno

    def value(self, v=None):
        if v is None:
            return self._get() if self._get else self._v
        self._v = 1 if v else 0
        if self._set:
            self._set(self._v)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def fileno(self):
        return self._fileno() if self._fileno else -1


# -- wires ------------------------------------------------------------------------

class PacketWire:
    """The chip's RJ45 as AF_PACKET on a Linux interface (unix port). It plays the
    cable: the veth keeps the kernel's offloads, so what the peer's kernel left
    to "hardware" is done here (ksock.net.core.gso, shared with ksock's packet
    driver): a TSO superframe reaches the chip as MSS-sized frames, a partial
    checksum filled in. The chip's own frames go out as they are."""

    def __init__(self, ifname):
        from ksock.drivers import packet
        self.ifname = ifname
        self.ps = packet.packet_sock(ifname)
        self.sock = self.ps.sock
        self.tx = bytearray(_VH + 1600)  # the virtio-net header (zero: complete frame) + frame
        self._seg = self._count = self._hlen = self._plen = self._mss = 0
        self.stats = {"gso": 0, "gso_segs": 0, "csum_filled": 0, "dropped": 0}

    def _sysfs(self, attr):
        with open("/sys/class/net/%s/%s" % (self.ifname, attr)) as f:
            return f.read().strip()

    def mac(self):
        return bytes(int(x, 16) for x in self._sysfs("address").split(":"))

    def carrier(self):
        try:
            return self._sysfs("carrier") == "1"
        except OSError:
            return False

    def send(self, mv):
        n = len(mv)
        self.tx[_VH:_VH + n] = mv
        if self.ps.vnet:
            self.ps.send(self.tx, 0, _VH + n)
        else:
            self.ps.send(self.tx, _VH, n)

    def held_len(self):
        """Length of the next segment of a superframe being cut, 0 when none."""
        if self._seg >= self._count:
            return 0
        p = self._seg * self._mss
        return self._hlen + (self._plen - p if self._plen - p < self._mss else self._mss)

    def recv_into(self, buf):
        """One complete frame per call into buf; 0 when the wire is idle."""
        from ksock.net.core import gso
        ps = self.ps
        while True:
            if self._seg < self._count:  # the next segment of a superframe
                i = self._seg
                self._seg += 1
                self.stats["gso_segs"] += 1
                return gso.tso_segment_into(ps.spill, 0, self._hlen, self._plen, self._mss, i, buf, 0)
            got = ps.recv(buf, 0)
            if got == 0:
                return 0
            if got < 0:
                self.stats["dropped"] += 1  # beyond 64 KB: no cable carries it
                continue
            mss = ps.gso_size(got)
            if got > ps.l1 or mss:
                src = ps.spill
                src[0:ps.l1 if got > ps.l1 else got] = memoryview(buf)[:ps.l1 if got > ps.l1 else got]
                hlen = gso.tcp4_hlen(src, 0, got)
                if hlen and not ps.vnet:
                    mss = ps.mtu - hlen + 14
                if not hlen or mss <= 0 or hlen + mss > len(buf):
                    self.stats["dropped"] += 1
                    continue
                self._hlen, self._mss = hlen, mss
                self._plen = gso.tcp4_payload(src, 0, hlen)
                self._count = gso.tso_count(self._plen, mss)
                self._seg = 0
                self.stats["gso"] += 1
                continue
            h = ps.hdr
            if h[0] & gso.VIRTIO_NET_HDR_F_NEEDS_CSUM:
                if ps.vnet:
                    start, field = gso.vnet_csum_start(h, 0), gso.vnet_csum_offset(h, 0)
                else:  # AUXDATA says only "partial": the L4 header says where
                    start = 14 + ((buf[14] & 0x0F) << 2)
                    field = 16 if buf[23] == 6 else 6
                gso.csum_help(buf, 0, got, start, field)
                self.stats["csum_filled"] += 1
            return got

    def fileno(self):
        return self.sock.fileno()


class ListWire:
    """Frames in and out as Python lists (device tests): `rxq` feeds the chip,
    `sent` collects what it transmitted."""

    def __init__(self):
        self.rxq = []
        self.sent = []
        self.link = True

    def carrier(self):
        return self.link

    def send(self, mv):
        self.sent.append(bytes(mv))

    def recv_into(self, buf):
        if not self.rxq:
            return 0
        f = self.rxq.pop(0)
        buf[:len(f)] = f
        return len(f)

    def fileno(self):
        return -1


class Board:
    """A W5500 module on a fake SPI bus: `spi`, `cs`, `rst`, `intr` to hand to
    ksock.drivers.w5500.W5500, `model` to inspect."""

    def __init__(self, wire, **kw):
        if isinstance(wire, str):
            wire = PacketWire(wire)
        self.wire = wire
        self.model = m = W5500Model(wire, **kw)
        self.spi = FakeSPI(m)
        self.cs = FakePin(m.pin_cs)
        self.rst = FakePin(m.pin_rst)
        self.intr = FakePin(get_fn=m.int_level, fileno=wire.fileno)
        self.mac = wire.mac() if hasattr(wire, "mac") else b"\x02\x08\xdc\x00\x00\x02"


def attach(ifname, name="eth0", ptr_start=0xFF00):
    """unix-w5500 target: the stack's eth0 is the W5500 driver on a model bridged
    to `ifname`. ptr_start near 0xFFFF makes the first frames cross both the
    16 KB buffer end and the 16-bit pointer wrap."""
    from ksock.drivers.w5500 import W5500
    from ksock import stack
    b = Board(ifname, ptr_start=ptr_start)
    dev = W5500(b.spi, b.cs, rst=b.rst, intr=b.intr, name=name, mac=b.mac)
    dev.board = b
    stack.add_dev(dev)
    return dev
