# A netdev over a Linux AF_PACKET socket bound to one interface (unix port):
# ksock owns that link's Ethernet frames; the Linux kernel on the other end of
# the veth is the peer. Non-blocking; the fd goes to the softirq loop's poll.
import struct

from ksock.net.core import dev as netdev
from ksock.net.core import skbuff

AF_PACKET = 17
SOCK_RAW = 3
ETH_P_ALL_BE = 0x0300  # htons(ETH_P_ALL)
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23  # do not read back our own transmissions


MSG_DONTWAIT = 0x40
_ZEROS = bytes(60)
# recv(2)/send(2) straight into/out of the skb's buffer through ffi: the socket
# object's readinto() reads "exactly" len bytes, so a second frame queued
# behind the first would be read truncated into the tail of the buffer (and
# lost); recv() on the object allocates a bytes per frame. Interpreters
# without ffi (PyPI's prebuilt unix port) fall back to recv()/send().
try:
    import ffi
    import uctypes
    _libc = ffi.open("libc.so.6")
    _recv = _libc.func("i", "recv", "ipii")
    _send = _libc.func("i", "send", "ilii")
    _addr = uctypes.addressof
except (ImportError, OSError, AttributeError):
    _recv = _send = None


def _sysfs(ifname, attr):
    with open("/sys/class/net/%s/%s" % (ifname, attr)) as f:
        return f.read().strip()


class PacketDev(netdev.net_device):
    def __init__(self, ifname, name=None, mac=None):
        if mac is None:
            mac = bytes(int(x, 16) for x in _sysfs(ifname, "address").split(":"))
        super().__init__(name or ifname, mac, mtu=int(_sysfs(ifname, "mtu")))
        self.ifname = ifname
        self.sock = None

    def ndo_open(self):
        try:
            import usocket as socket  # the built-in, even when a drop-in socket.py shadows `socket`
        except ImportError:
            import socket
        s = socket.socket(AF_PACKET, SOCK_RAW, 0)
        idx = int(_sysfs(self.ifname, "ifindex"))
        # struct sockaddr_ll: family, protocol (be16), ifindex, hatype, pkttype, halen, addr[8]
        s.bind(struct.pack("<HHiHBB8s", AF_PACKET, ETH_P_ALL_BE, idx, 0, 0, 0, b""))
        try:
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # kernels before 4.20: outgoing frames are filtered by source MAC below
        s.setblocking(False)
        self.sock = s
        self.fd = s.fileno()
        return 0

    def ndo_stop(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        return 0

    def fileno(self):
        return self.sock.fileno() if self.sock else -1

    def ndo_start_xmit(self, skb):
        try:
            n = skb.len
            if n < 60:  # pad runts to the Ethernet minimum, as a NIC would
                skbuff.skb_put(skb, 60 - n)
                skbuff.skb_store_bits(skb, n, _ZEROS, 0, 60 - n)
            if _send is not None:
                if _send(self.sock.fileno(), _addr(skb.buf) + skb.data, skb.len, MSG_DONTWAIT) < 0:
                    return -105  # ENOBUFS: the kernel's queue is full; TCP retransmits
            else:
                self.sock.send(memoryview(skb.buf)[skb.data:skb.data + skb.len])
            return 0
        except OSError as e:
            return -e.args[0]
        finally:
            skbuff.kfree_skb(skb)

    def poll(self, budget):
        n = 0
        st = self.stats
        while n < budget:
            skb = netdev.netdev_alloc_skb()
            if skb is None:
                st.rx_dropped += 1  # pool empty: leave the frame in the kernel
                break
            if _recv is not None:
                got = _recv(self.fd, skb.buf, len(skb.buf), MSG_DONTWAIT)
            else:
                try:
                    b = self.sock.recv(len(skb.buf))
                except OSError:
                    b = None
                got = len(b) if b else 0
                if got:
                    skb.buf[:got] = b
            if got <= 0:
                skbuff.kfree_skb(skb)
                break
            skbuff.skb_put(skb, got)
            n += 1
            netdev.netif_receive_skb(skb, self)
        return n
