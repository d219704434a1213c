# Network devices (net/core/dev.c): net_device, registration, the receive path
# netif_receive_skb -> packet_type handlers, the transmit path dev_queue_xmit,
# and the skb pool every packet of the stack lives in.
from ksock.compat import const, MICROPYTHON
from ksock.net.core import skbuff
from ksock.kernel import softirq, fault_inject
from ksock.wire import eth

IFF_UP = const(0x1)
IFF_BROADCAST = const(0x2)
IFF_LOOPBACK = const(0x8)
IFF_RUNNING = const(0x40)

# Pool sizing: a data area holds a full Ethernet frame; TX skbs reserve room for
# Ethernet + IP + TCP headers with options (MAX_TCP_HEADER in spirit).
SKB_SIZE = const(1600)
MAX_HEADER = const(96)

skb_pool = None


def skb_pool_init(count=None):
    global skb_pool
    if count is None:
        import sys
        count = 256 if sys.platform == "linux" else 16  # boards: TCP copies into its rings, so skbs are only frames in flight
    skb_pool = skbuff.Pool(count, SKB_SIZE, MAX_HEADER)
    return skb_pool


def alloc_skb():
    """An skb with MAX_HEADER of headroom, or None (callers answer ENOBUFS)."""
    if fault_inject.fail_nth[0] and fault_inject.should_fail():
        return None
    return skb_pool.alloc()


def netdev_alloc_skb():
    """An RX skb whose data starts at 0 so a driver can read a frame into buf."""
    if fault_inject.fail_nth[0] and fault_inject.should_fail():
        return None
    skb = skb_pool.alloc()
    if skb is not None:
        skbuff.skb_push(skb, skbuff.skb_headroom(skb))
        skbuff.skb_trim(skb, 0)
    return skb


class net_device_stats:
    __slots__ = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
                 "rx_dropped", "tx_dropped", "multicast", "rx_length_errors", "rx_nohandler",
                 "rx_otherhost_dropped")

    def __init__(self):
        for f in net_device_stats.__slots__:
            setattr(self, f, 0)


class net_device:
    """A NIC. Drivers subclass and provide ndo_open/ndo_stop/ndo_start_xmit/poll."""

    def __init__(self, name, mac, mtu=1500, flags=IFF_BROADCAST):
        self.name = name
        self.dev_addr = bytes(mac)
        self.mtu = mtu
        self.flags = flags
        self.ifindex = 0
        self.stats = net_device_stats()
        self.hard_header_len = eth.ETH_HLEN

    def ndo_open(self):
        return 0

    def ndo_stop(self):
        return 0

    def ndo_start_xmit(self, skb):
        """Send skb.buf[skb.data:skb.data+skb.len]; the device frees the skb. 0 or -errno."""
        raise NotImplementedError

    def poll(self, budget):
        """Receive up to `budget` frames into netif_receive_skb; returns how many."""
        return 0

    def __repr__(self):
        return "<net_device %s>" % self.name


_devs = []
_ptypes = {}  # ETH_P_* -> func(skb, dev)
_ifindex = [0]


def register_netdev(dev):
    for d in _devs:
        if d.name == dev.name:
            return -17  # EEXIST
    _ifindex[0] += 1
    dev.ifindex = _ifindex[0]
    _devs.append(dev)
    return 0


def unregister_netdev(dev):
    dev_close(dev)
    if dev in _devs:
        _devs.remove(dev)


def dev_open(dev):
    if dev.flags & IFF_UP:
        return 0
    err = dev.ndo_open()
    if err:
        return err
    dev.flags |= IFF_UP | IFF_RUNNING
    softirq.register_poller(dev)
    return 0


def dev_close(dev):
    if dev.flags & IFF_UP:
        softirq.unregister_poller(dev)
        dev.ndo_stop()
        dev.flags &= ~(IFF_UP | IFF_RUNNING)


def dev_get_by_name(name):
    for d in _devs:
        if d.name == name:
            return d
    return None


def netdevs():
    return list(_devs)


def dev_add_pack(ptype, func):
    _ptypes[ptype] = func


def netif_receive_skb(skb, dev):
    """A received Ethernet frame (skb.data at the MAC header): hand it to its
    protocol's handler, which owns the skb from here (consumes or frees it)."""
    st = dev.stats
    st.rx_packets += 1
    st.rx_bytes += skb.len
    if skb.len < eth.ETH_HLEN:
        st.rx_length_errors += 1
        st.rx_errors += 1
        skbuff.kfree_skb(skb)
        return
    off = skb.data
    skb.mac_header = off
    proto = eth.eth_type(skb.buf, off)
    if eth.is_multicast(skb.buf, off):
        st.multicast += 1
    skb.protocol = proto
    skb.dev = dev
    fn = _ptypes.get(proto)
    if fn is None:
        st.rx_nohandler += 1
        skbuff.kfree_skb(skb)
        return
    skbuff.skb_pull(skb, eth.ETH_HLEN)
    skb.network_header = skb.data
    fn(skb, dev)


def dev_hard_header(skb, dev, proto, dst_mac):
    off = skbuff.skb_push(skb, eth.ETH_HLEN)
    skb.mac_header = off
    eth.emit_into(skb.buf, off, dst_mac, dev.dev_addr, proto)


def dev_queue_xmit(skb, dev):
    """Transmit a complete frame; the skb is consumed. Returns 0 or -errno."""
    if not dev.flags & IFF_UP:
        dev.stats.tx_dropped += 1
        skbuff.kfree_skb(skb)
        return -100  # ENETDOWN
    n = skb.len
    err = dev.ndo_start_xmit(skb)
    if err:
        dev.stats.tx_errors += 1
    else:
        dev.stats.tx_packets += 1
        dev.stats.tx_bytes += n
    return err


def proc_net_dev():
    """/proc/net/dev as text."""
    lines = ["Inter-|   Receive                            |  Transmit",
             " face |bytes    packets errs drop nohandler|bytes    packets errs drop"]
    for d in _devs:
        s = d.stats
        lines.append("%6s: %8d %7d %4d %4d %9d %8d %7d %4d %4d" % (
            d.name, s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped, s.rx_nohandler,
            s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped))
    return "\n".join(lines)
