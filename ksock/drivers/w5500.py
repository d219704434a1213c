# WIZnet W5500 in MACRAW mode over SPI (drivers/net/ethernet/wiznet/w5100.c
# spirit): socket 0 owns all 16 KB of RX and TX memory and carries raw Ethernet
# frames; ksock does ARP/IP/TCP itself. Takes a machine.SPI-like bus (write,
# readinto) and machine.Pin-like CS/RST/INT; transfers go through preallocated
# buffers. Register map and sequences: WIZnet W5500 datasheet v1.0.x, docs/w5500.md.
from ksock.compat import const, ticks_ms, ticks_diff
from ksock.net.core import dev as netdev
from ksock.net.core import skbuff

# SPI frame: address (16 bit, big-endian), control byte, data.
# Control byte = BSB[4:0] << 3 | RWB << 2 | OM[1:0]; OM 00 = variable length (CS framed).
_RWB = const(0x04)
BSB_COMMON = const(0x00)
BSB_S0_REG = const(0x01 << 3)
BSB_S0_TX = const(0x02 << 3)
BSB_S0_RX = const(0x03 << 3)

# Common registers
MR = const(0x0000)
SHAR = const(0x0009)
IR = const(0x0015)
IMR = const(0x0016)
SIR = const(0x0017)
SIMR = const(0x0018)
RTR = const(0x0019)
PHYCFGR = const(0x002E)
VERSIONR = const(0x0039)
MR_RST = const(0x80)
PHYCFGR_LNK = const(0x01)
PHYCFGR_SPD = const(0x02)
PHYCFGR_DPX = const(0x04)
VERSION = const(0x04)
RTR_DEFAULT = const(0x07D0)

# Socket n registers (block 4n+1)
Sn_MR = const(0x0000)
Sn_CR = const(0x0001)
Sn_IR = const(0x0002)
Sn_SR = const(0x0003)
Sn_RXBUF_SIZE = const(0x001E)
Sn_TXBUF_SIZE = const(0x001F)
Sn_TX_FSR = const(0x0020)
Sn_TX_RD = const(0x0022)
Sn_TX_WR = const(0x0024)
Sn_RX_RSR = const(0x0026)
Sn_RX_RD = const(0x0028)
Sn_RX_WR = const(0x002A)
Sn_IMR = const(0x002C)
Sn_MR_MACRAW = const(0x04)
Sn_MR_MFEN = const(0x80)  # MAC filter: unicast to SHAR, broadcast, multicast only
Sn_CR_OPEN = const(0x01)
Sn_CR_CLOSE = const(0x10)
Sn_CR_SEND = const(0x20)
Sn_CR_RECV = const(0x40)
Sn_IR_RECV = const(0x04)
Sn_IR_SENDOK = const(0x10)
SOCK_CLOSED = const(0x00)
SOCK_MACRAW = const(0x42)

BUF_SIZE = const(0x4000)  # 16 KB to socket 0, both directions
_BUF_MASK = const(0x3FFF)
_ETH_MIN = const(60)  # without FCS
_ETH_MAX = const(1514)
_SPIN = const(2000)  # bounded waits on the chip (command accept, SENDOK)
LINK_CHECK_MS = const(1000)


def _sleep_us(us):
    try:
        from time import sleep_us
        sleep_us(us)
    except ImportError:
        pass  # QEMU-like ports without time: SPI is slower than the delays anyway


class W5500(netdev.net_device):
    """net_device for a W5500 on `spi` with chip select `cs` (and optional `rst`,
    `intr` pins). With `intr`, poll() skips SPI traffic while INTn is high; an
    `intr` pin with a fileno() (the model on the unix port) lets the softirq
    loop sleep on it."""

    def __init__(self, spi, cs, rst=None, intr=None, name="eth0", mac=None):
        self.spi = spi
        self.cs = cs
        self.rst = rst
        self.intr = intr
        self._hdr = bytearray(3)
        self._rb = bytearray(2)
        self._mv1 = memoryview(self._rb)[0:1]
        self._mv2 = memoryview(self._rb)
        self._tx_wr = 0
        self._more = False
        self._link_t = 0
        self.carrier = False
        self.rx_resets = 0
        cs.value(1)
        if mac is None:
            mac = _default_mac()
        super().__init__(name, mac)
        self._reset()

    # -- SPI frames -------------------------------------------------------------
    def _read(self, addr, ctrl, mv):
        h = self._hdr
        h[0] = addr >> 8
        h[1] = addr & 0xFF
        h[2] = ctrl
        self.cs.value(0)
        self.spi.write(h)
        self.spi.readinto(mv)
        self.cs.value(1)

    def _write(self, addr, ctrl, mv):
        h = self._hdr
        h[0] = addr >> 8
        h[1] = addr & 0xFF
        h[2] = ctrl | _RWB
        self.cs.value(0)
        self.spi.write(h)
        self.spi.write(mv)
        self.cs.value(1)

    def _r8(self, ctrl, addr):
        self._read(addr, ctrl, self._mv1)
        return self._rb[0]

    def _w8(self, ctrl, addr, v):
        self._rb[0] = v
        self._write(addr, ctrl, self._mv1)

    def _r16(self, ctrl, addr):
        self._read(addr, ctrl, self._mv2)
        return (self._rb[0] << 8) | self._rb[1]

    def _w16(self, ctrl, addr, v):
        self._rb[0] = (v >> 8) & 0xFF
        self._rb[1] = v & 0xFF
        self._write(addr, ctrl, self._mv2)

    def _r16_stable(self, addr):
        # Sn_RX_RSR / Sn_TX_FSR change while they are read (two bytes, not
        # atomic): the datasheet says read until two reads agree.
        a = self._r16(BSB_S0_REG, addr)
        while True:
            b = self._r16(BSB_S0_REG, addr)
            if a == b:
                return a
            a = b

    def _buf_io(self, ptr, ctrl, mv, write):
        # Socket buffers are 16 KB rings addressed by 16-bit pointers: split a
        # transfer that crosses the end of the ring.
        off = ptr & _BUF_MASK
        n = len(mv)
        first = BUF_SIZE - off
        fn = self._write if write else self._read
        if n <= first:
            fn(off, ctrl, mv)
        else:
            fn(off, ctrl, mv[:first])
            fn(0, ctrl, mv[first:])

    def _cmd(self, cmd):
        """Write Sn_CR; the chip clears it once accepted. 0 or -EIO."""
        self._w8(BSB_S0_REG, Sn_CR, cmd)
        for _ in range(_SPIN):
            if not self._r8(BSB_S0_REG, Sn_CR):
                return 0
        return -5  # EIO

    # -- bring-up ---------------------------------------------------------------
    def _reset(self):
        if self.rst is not None:  # hardware reset: RSTn low >= 500 us, then 1 ms to lock PLL
            self.rst.value(0)
            _sleep_us(600)
            self.rst.value(1)
            _sleep_us(1500)
        self._w8(BSB_COMMON, MR, MR_RST)
        for _ in range(_SPIN):
            if not self._r8(BSB_COMMON, MR) & MR_RST:
                break
        else:
            raise OSError(110)  # ETIMEDOUT: reset never completed
        v = self._r8(BSB_COMMON, VERSIONR)
        if v != VERSION or self._r16(BSB_COMMON, RTR) != RTR_DEFAULT:
            raise OSError(19)  # ENODEV: no W5500 answering on this bus
        self.version = v

    def link(self):
        """(up, 100 Mbit/s, full duplex) from PHYCFGR."""
        p = self._r8(BSB_COMMON, PHYCFGR)
        self.carrier = bool(p & PHYCFGR_LNK)
        return self.carrier, bool(p & PHYCFGR_SPD), bool(p & PHYCFGR_DPX)

    def ndo_open(self):
        m = self.dev_addr
        self._write(SHAR, BSB_COMMON, m)
        for s in range(8):  # all 16 KB to socket 0; sockets 1..7 get none
            kb = 16 if s == 0 else 0
            ctrl = ((s << 2) + 1) << 3
            self._w8(ctrl, Sn_RXBUF_SIZE, kb)
            self._w8(ctrl, Sn_TXBUF_SIZE, kb)
        self._w8(BSB_S0_REG, Sn_MR, Sn_MR_MACRAW | Sn_MR_MFEN)
        self._w8(BSB_S0_REG, Sn_IMR, Sn_IR_RECV)  # INTn for frames only; SENDOK is polled
        self._w8(BSB_COMMON, SIMR, 0x01)
        self._w8(BSB_S0_REG, Sn_IR, 0xFF)
        if self._cmd(Sn_CR_OPEN) or self._r8(BSB_S0_REG, Sn_SR) != SOCK_MACRAW:
            return -5  # EIO
        self._tx_wr = self._r16(BSB_S0_REG, Sn_TX_WR)
        self.link()
        self._link_t = ticks_ms()
        self._more = True
        return 0

    def ndo_stop(self):
        self._w8(BSB_COMMON, SIMR, 0)
        self._cmd(Sn_CR_CLOSE)
        return 0

    def fileno(self):
        f = getattr(self.intr, "fileno", None)
        return f() if f else -1

    # -- transmit ---------------------------------------------------------------
    def ndo_start_xmit(self, skb):
        n = skb.len
        try:
            if n > _ETH_MAX:
                return -90  # EMSGSIZE
            if n < _ETH_MIN:  # pad runts to the Ethernet minimum
                skbuff.skb_put(skb, _ETH_MIN - n)
                b = skb.buf
                for i in range(skb.data + n, skb.data + _ETH_MIN):
                    b[i] = 0
                n = _ETH_MIN
            if self._r16_stable(Sn_TX_FSR) < n:
                return -105  # ENOBUFS
            wr = self._tx_wr
            self._buf_io(wr, BSB_S0_TX, memoryview(skb.buf)[skb.data:skb.data + n], True)
            wr = (wr + n) & 0xFFFF
            self._w16(BSB_S0_REG, Sn_TX_WR, wr)
            self._tx_wr = wr
            if self._cmd(Sn_CR_SEND):
                return -5
            for _ in range(_SPIN):  # SENDOK: the frame left; clear it (write 1)
                if self._r8(BSB_S0_REG, Sn_IR) & Sn_IR_SENDOK:
                    self._w8(BSB_S0_REG, Sn_IR, Sn_IR_SENDOK)
                    return 0
            return -5  # EIO: the chip never reported SENDOK
        finally:
            skbuff.kfree_skb(skb)

    # -- receive ----------------------------------------------------------------
    def poll(self, budget):
        now = ticks_ms()
        if ticks_diff(now, self._link_t) >= LINK_CHECK_MS:
            self._link_t = now
            self.link()
        intr = self.intr
        if intr is not None and intr.value() and not self._more:
            return 0  # INTn high: nothing received since the last drain
        if intr is not None:
            self._w8(BSB_S0_REG, Sn_IR, Sn_IR_RECV)  # ack first: later frames re-assert
        rsr = self._r16_stable(Sn_RX_RSR)
        if not rsr:
            self._more = False
            return 0
        st = self.stats
        ptr = self._r16(BSB_S0_REG, Sn_RX_RD)
        start = ptr
        done = 0
        hdr = self._mv2
        while done < budget and rsr >= 2:
            # each frame: 2-byte big-endian length (counting itself), then the frame
            self._buf_io(ptr, BSB_S0_RX, hdr, False)
            ln = ((self._rb[0] << 8) | self._rb[1]) - 2
            if ln < 14 or ln > _ETH_MAX + 4 or ln + 2 > rsr:
                # out of step with the chip: drop the whole buffer by reopening
                st.rx_errors += 1
                st.rx_length_errors += 1
                self._rx_resync()
                return done
            skb = netdev.netdev_alloc_skb()
            if skb is None:
                st.rx_dropped += 1  # no skb: skip the frame in chip memory
            else:
                self._buf_io(ptr + 2, BSB_S0_RX, memoryview(skb.buf)[0:ln], False)
                skbuff.skb_put(skb, ln)
            ptr = (ptr + 2 + ln) & 0xFFFF
            rsr -= 2 + ln
            done += 1
            if skb is not None:
                netdev.netif_receive_skb(skb, self)
        if ptr != start:
            self._w16(BSB_S0_REG, Sn_RX_RD, ptr)
            self._cmd(Sn_CR_RECV)
        self._more = rsr > 0
        return done

    def _rx_resync(self):
        self.rx_resets += 1
        self._cmd(Sn_CR_CLOSE)
        self._cmd(Sn_CR_OPEN)
        self._tx_wr = self._r16(BSB_S0_REG, Sn_TX_WR)
        self._more = False


def _default_mac():
    # A locally administered address from the MCU's unique id where there is one.
    try:
        import machine
        u = machine.unique_id()
        return bytes((0x02, u[-5], u[-4], u[-3], u[-2], u[-1])) if len(u) >= 5 else b"\x02\x08\xdc\x00\x00\x01"
    except (ImportError, AttributeError):
        return b"\x02\x08\xdc\x00\x00\x01"
