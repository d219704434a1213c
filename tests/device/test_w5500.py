# ksock.drivers.w5500 against the register-level W5500 model (hil/w5500_model.py)
# with a list wire: ring wrap, torn RSR reads, budgets, overrun, MAC filter, TX
# padding; and the model itself must refuse what the datasheet forbids. Runs where
# the model imports (the unix-port targets); docs/w5500.md says what it cannot check.
from ksock.net.core import dev as netdev
from ksock.net.core import skbuff

try:
    import w5500_model as M
    from ksock.drivers.w5500 import W5500
except ImportError:
    M = None

MAC = b"\x02\x00\x00\x00\x00\x05"
got = []


def _rx(skb, dev):
    got.append(bytes(skb.buf[skb.mac_header:skb.data + skb.len]))
    skbuff.kfree_skb(skb)


def setup(ptr_start=0, intr=True, **kw):
    if M is None:
        skip("no W5500 model on this target")
    if netdev.skb_pool is None:
        netdev.skb_pool_init(32)
    netdev.dev_add_pack(0x88B5, _rx)
    got.clear()
    w = M.ListWire()
    b = M.Board(w, ptr_start=ptr_start, **kw)
    d = W5500(b.spi, b.cs, rst=b.rst, intr=b.intr if intr else None, name="w0", mac=MAC)
    assert d.ndo_open() == 0
    return d, b.model, w


def frame(i, n, dst=MAC):
    # dst, src, ETH_P 0x88B5 (local experimental), payload tagged with i
    body = bytes(((i + k) * 7) & 0xFF for k in range(n - 14))
    return dst + b"\x02\x00\x00\x00\x00\x09" + b"\x88\xb5" + body


def drain(d, budget=64):
    n = 0
    for _ in range(100):
        k = d.poll(budget)
        n += k
        if not k and not d._more:
            break
    return n


def test_w5500_open_configures_macraw_16k_socket0():
    d, m, w = setup()
    s = m.socks
    assert s[0][0x1E] == 16 and s[0][0x1F] == 16
    assert all(s[i][0x1E] == 0 and s[i][0x1F] == 0 for i in range(1, 8))
    assert s[0][0x00] == 0x84 and s[0][0x03] == 0x42  # MACRAW|MFEN, SOCK_MACRAW
    assert bytes(m.common[0x09:0x0F]) == MAC and d.version == 4
    assert d.link() == (True, True, True) and m.violations == []


def test_w5500_rx_crosses_16k_end_and_16bit_pointer_wrap():
    d, m, w = setup(ptr_start=0xFFE0)
    sent = []
    for i in range(60):  # ~45 KB: the 16 KB ring goes round almost three times
        f = frame(i, 60 + (i * 173) % 1455)
        sent.append(f)
        w.rxq.append(f)
        if len(w.rxq) == 8:
            drain(d)
    drain(d)
    assert got == sent
    assert m.stats["wraps"] >= 2 and m.violations == [] and d.stats.rx_errors == 0


def test_w5500_rsr_torn_by_arrival_is_read_again():
    d, m, w = setup(intr=False)  # polled: the frame lands while RSR is being read
    w.rxq.append(frame(1, 300))  # between its two bytes: 0x00, then 0x2e of 0x012e
    assert drain(d) == 1 and got == [frame(1, 300)]
    assert m.stats["rsr_torn"] == 1 and m.violations == []


def test_w5500_budget_leaves_the_rest_for_the_next_poll():
    d, m, w = setup()
    for i in range(10):
        w.rxq.append(frame(i, 100))
    assert [d.poll(4), d.poll(4), d.poll(4), d.poll(4)] == [4, 4, 2, 0]
    assert len(got) == 10 and m.violations == []


def test_w5500_rx_overrun_drops_in_chip_then_recovers():
    d, m, w = setup()
    for i in range(14):  # 14 x 1516 > 16 KB before the driver looks
        w.rxq.append(frame(i, 1514))
    m.ingest()
    assert m.stats["rx_overrun"] == 4
    assert drain(d) == 10
    w.rxq.append(frame(99, 64))
    assert drain(d) == 1 and got[-1] == frame(99, 64) and m.violations == []


def test_w5500_mac_filter_passes_own_broadcast_multicast_only():
    d, m, w = setup()
    w.rxq.extend([frame(1, 64, dst=b"\x02\x00\x00\x00\x00\x06"), frame(2, 64, dst=b"\xff" * 6),
                  frame(3, 64, dst=b"\x01\x00\x5e\x00\x00\x01"), frame(4, 64)])
    assert drain(d) == 3 and m.stats["rx_filtered"] == 1


def test_w5500_tx_frames_exact_and_runts_padded():
    d, m, w = setup(ptr_start=0x3FF8)
    for n in (14, 59, 60, 1000, 1514):
        skb = netdev.netdev_alloc_skb()
        skbuff.skb_put_data(skb, frame(n, n))
        assert d.ndo_start_xmit(skb) == 0
    want = [frame(n, n) + bytes(max(0, 60 - n)) for n in (14, 59, 60, 1000, 1514)]
    assert w.sent == want and m.stats["tx_frames"] == 5 and m.violations == []
    skb = netdev.netdev_alloc_skb()
    skbuff.skb_put_data(skb, frame(0, 1515))
    assert d.ndo_start_xmit(skb) == -90  # EMSGSIZE
    assert netdev.skb_pool.avail == netdev.skb_pool.count  # every skb went back


def test_w5500_int_high_means_no_spi_traffic():
    d, m, w = setup()
    drain(d)
    n = m.stats["spi_frames"]
    for _ in range(50):
        d.poll(64)
    assert m.stats["spi_frames"] == n  # INTn high: the driver does not touch the bus
    w.rxq.append(frame(5, 80))
    assert d.poll(64) == 1


def test_w5500_link_down_from_phycfgr():
    d, m, w = setup()
    w.link = False
    assert d.link() == (False, False, False) and not d.carrier


def test_w5500_absent_chip_is_enodev_or_etimedout():
    if M is None:
        skip("no W5500 model on this target")

    class Floating:  # MISO pulled to a constant: nothing on the bus
        def __init__(self, v):
            self.v = v

        def write(self, b):
            pass

        def readinto(self, b, w=0):
            for i in range(len(b)):
                b[i] = self.v
    for v, err in ((0x00, 19), (0xFF, 110)):
        try:
            W5500(Floating(v), M.FakePin(), mac=MAC)
            assert False, "no error"
        except OSError as e:
            assert e.args[0] == err, e


def _expect(m, fn, words):
    try:
        fn()
    except M.W5500ModelError as e:
        assert words in str(e), e
        return
    assert False, "model accepted: " + words


def test_w5500_model_refuses_datasheet_breaches():
    d, m, w = setup()
    _expect(m, lambda: d._w8(0x00, 0x39, 5), "read-only common register")
    m.cs_low = False
    _expect(m, lambda: d._w8(0x08, 0x03, 0), "read-only socket 0 register")
    m.cs_low = False
    _expect(m, lambda: d._w8(0x20, 0x00, 0), "reserved block select")
    m.cs_low = False
    m.cmd_latency = 5
    d._w8(0x08, 0x01, 0x40)
    _expect(m, lambda: d._w8(0x08, 0x01, 0x40), "before the chip cleared")
    m.cs_low = False
    m.cr_reads = 0
    _expect(m, lambda: d._read(0, 0x18, memoryview(bytearray(2))), "beyond received data")
    m.cs_low = False
    _expect(m, lambda: d._w8(0x08, 0x1E, 3), "only 0,1,2,4,8,16")
    m.cs_low = False
    m.pin_rst(0)
    _expect(m, lambda: m.pin_rst(1), "RSTn low for")
    _expect(m, lambda: d._r8(0x00, 0x39), "before the PLL lock time")
    assert len(m.violations) == 8
