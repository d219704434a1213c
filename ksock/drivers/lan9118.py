# SMSC LAN9118 Ethernet (the NIC of QEMU's mps2-an385, at 0x40200000), polled by
# the softirq loop. FIFO copies and status reads are viper functions: MMIO words
# go straight between the chip and the skb's buffer, no int objects per word
# (mem32 would box every value >= 2**30 on a 32-bit port).
import micropython
from micropython import const

from ksock.net.core import dev as netdev
from ksock.net.core import skbuff

BASE = const(0x40200000)
# Inside viper the base is built as 0x4020 << 16: the literal does not fit a
# 32-bit port's small int and would turn the address arithmetic into objects.
_BASE_HI = const(0x4020)
RX_DATA_FIFO = const(0x00)
TX_DATA_FIFO = const(0x20)
RX_STATUS_FIFO = const(0x40)
TX_STATUS_FIFO = const(0x48)
ID_REV = const(0x50)
INT_STS = const(0x58)
INT_EN = const(0x5C)
BYTE_TEST = const(0x64)
RX_CFG = const(0x6C)
TX_CFG = const(0x70)
HW_CFG = const(0x74)
RX_FIFO_INF = const(0x7C)
TX_FIFO_INF = const(0x80)
PMT_CTRL = const(0x84)
RX_DROP = const(0xA0)
MAC_CSR_CMD = const(0xA4)
MAC_CSR_DATA = const(0xA8)
# MAC CSR indices and bits
MAC_CR = const(1)
ADDRH = const(2)
ADDRL = const(3)
MAC_CR_RXEN = const(1 << 2)
MAC_CR_TXEN = const(1 << 3)
MAC_CR_FDPX = const(1 << 20)
TX_CFG_TX_ON = const(1 << 1)
RXS_ES = const(1 << 15)  # error summary in an RX status word


@micropython.viper
def _rd(off: int) -> int:
    b = _BASE_HI  # a viper local: no compile-time folding into an object
    # low 30 bits only: a boxed value never needs a long int
    return int(ptr32((b << 16) + off)[0]) & 0x3FFFFFFF  # noqa: F821


@micropython.viper
def _rd_hi(off: int) -> int:
    b = _BASE_HI  # a viper local: no compile-time folding into an object
    return (int(ptr32((b << 16) + off)[0]) >> 16) & 0xFFFF  # noqa: F821


@micropython.viper
def _wr(off: int, val: int):
    b = _BASE_HI  # a viper local: no compile-time folding into an object
    ptr32((b << 16) + off)[0] = val  # noqa: F821


@micropython.viper
def _wr2(off: int, hi: int, lo: int):
    b = _BASE_HI  # a viper local: no compile-time folding into an object
    ptr32((b << 16) + off)[0] = (hi << 16) | lo  # noqa: F821


@micropython.viper
def _rx_frame(buf, cap: int) -> int:
    """Pop one RX status word and the frame's words: into buf when the frame is
    good and fits `cap` bytes (returns its length, CRC included), else into the
    void (returns -1). One call per frame: a call costs more than the loop."""
    b = _BASE_HI  # a viper local: no compile-time folding into an object
    base = b << 16
    v = int(ptr32(base + RX_STATUS_FIFO)[0])  # noqa: F821
    ln = (v >> 16) & 0x3FFF
    words = (ln + 3) >> 2
    src = ptr32(base + RX_DATA_FIFO)  # noqa: F821
    i = 0
    if ln > cap or ln < 18 or v & RXS_ES:
        while i < words:
            v = src[0]
            i += 1
        return -1
    dst = ptr32(buf)  # noqa: F821
    while i < words:
        dst[i] = src[0]
        i += 1
    return ln


@micropython.viper
def _tx_frame(buf, start: int, n: int) -> int:
    """One frame into the TX FIFO: room check (TDFREE), command A (first and
    last segment, data start offset, buffer size) and B (tag, length), the
    words, then the TX status words drained. 0, or -1 when the FIFO is full.
    Each word is one MMIO write: QEMU spends ~0.3 us in its device model per
    word (measured), the loop itself ~0.02, so a C loop would gain little."""
    b = _BASE_HI  # a viper local: no compile-time folding into an object
    base = b << 16
    inf = ptr32(base + TX_FIFO_INF)  # noqa: F821
    if (int(inf[0]) & 0xFFFF) < n + 16:
        return -1
    align = start & 3
    fifo = ptr32(base + TX_DATA_FIFO)  # noqa: F821
    fifo[0] = 0x3000 | (align << 16) | n
    fifo[0] = n
    src = ptr32(buf)  # noqa: F821
    i = start >> 2
    end = i + ((n + align + 3) >> 2)
    while i < end:
        fifo[0] = src[i]
        i += 1
    st = ptr32(base + TX_STATUS_FIFO)  # noqa: F821
    while (int(inf[0]) >> 16) & 0xFF:
        i = st[0]
    return 0


@micropython.viper
def _zero(buf, start: int, end: int):
    p = ptr8(buf)  # noqa: F821
    while start < end:
        p[start] = 0
        start += 1


def _mac_csr_read(idx):
    _wr(MAC_CSR_CMD, (1 << 31) | (1 << 30) | idx)
    while _rd_hi(MAC_CSR_CMD) & 0x8000:
        pass
    return _rd_hi(MAC_CSR_DATA), _rd(MAC_CSR_DATA) & 0xFFFF


def _mac_csr_write(idx, hi, lo):
    _wr2(MAC_CSR_DATA, hi, lo)
    _wr(MAC_CSR_CMD, (1 << 31) | idx)
    while _rd_hi(MAC_CSR_CMD) & 0x8000:
        pass


class Lan9118(netdev.net_device):
    def __init__(self, name="eth0", mac=None):
        if _rd_hi(ID_REV) != 0x0118:
            raise OSError(19)  # ENODEV: no LAN9118 at BASE
        self._reset()
        if mac is None:  # the address the chip loaded from its EEPROM (QEMU: -nic mac=)
            h = _mac_csr_read(ADDRH)[1]
            lhi, llo = _mac_csr_read(ADDRL)
            mac = bytes((llo & 0xFF, llo >> 8, lhi & 0xFF, lhi >> 8, h & 0xFF, h >> 8))
        super().__init__(name, mac)
        self.rx_fifo_errors = 0

    def _reset(self):
        _wr(HW_CFG, 1)  # SRST
        n = 0
        while _rd(HW_CFG) & 1 or not _rd(PMT_CTRL) & 1:  # wait for READY
            n += 1
            if n > 100000:
                raise OSError(110)  # ETIMEDOUT

    def ndo_open(self):
        m = self.dev_addr
        _mac_csr_write(ADDRL, (m[3] << 8) | m[2], (m[1] << 8) | m[0])
        _mac_csr_write(ADDRH, 0, (m[5] << 8) | m[4])
        # full duplex, TX and RX on, promiscuous (the reset default) off
        _mac_csr_write(MAC_CR, MAC_CR_FDPX >> 16, MAC_CR_TXEN | MAC_CR_RXEN)
        _wr(TX_CFG, TX_CFG_TX_ON)
        _wr(INT_EN, 0)  # polled: the softirq loop reads the FIFO levels
        return 0

    def ndo_stop(self):
        _mac_csr_write(MAC_CR, 0, 0)
        _wr(TX_CFG, 0)
        return 0

    def ndo_start_xmit(self, skb):
        n = skb.len
        start = skb.data
        if n < 60:  # QEMU does not pad short frames; a real MAC would
            if start + 60 > len(skb.buf):
                skbuff.kfree_skb(skb)
                return -105
            _zero(skb.buf, start + n, start + 60)
            n = 60
        err = _tx_frame(skb.buf, start, n)
        skbuff.kfree_skb(skb)
        return -105 if err else 0  # ENOBUFS: TX FIFO full

    def poll(self, budget):
        done = 0
        st = self.stats
        while done < budget and _rd_hi(RX_FIFO_INF) & 0xFF:
            skb = netdev.netdev_alloc_skb()
            if skb is None:
                _rx_frame(None, -1)  # no buffer: the frame's words into the void
                st.rx_dropped += 1
                continue
            ln = _rx_frame(skb.buf, len(skb.buf))
            if ln < 0:
                st.rx_errors += 1
                skbuff.kfree_skb(skb)
                continue
            skbuff.skb_put(skb, ln - 4)  # strip the CRC
            done += 1
            netdev.netif_receive_skb(skb, self)
        return done
