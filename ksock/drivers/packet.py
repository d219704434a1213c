# A netdev over a Linux AF_PACKET socket bound to one interface (unix port):
# ksock owns that link's Ethernet frames; the Linux kernel on the other end of
# the veth is the peer. Non-blocking; the fd goes to the softirq loop's poll.
#
# A veth keeps the kernel's offloads on: the peer's TCP/UDP arrive with partial
# checksums and as TSO superframes up to 64 KB. PACKET_VNET_HDR puts a struct
# virtio_net_hdr before each frame that says so (docs/ip.md "Offloads"): partial
# or verified checksums are trusted as Linux trusts them on a veth, superframes
# are cut into MSS-sized skbs here (software GSO), frames sent get a zero header.
import struct

from ksock.compat import const
from ksock.net.core import dev as netdev
from ksock.net.core import gso
from ksock.net.core import skbuff

AF_PACKET = 17
SOCK_RAW = 3
ETH_P_ALL_BE = 0x0300  # htons(ETH_P_ALL)
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23  # do not read back our own transmissions
TP_STATUS_CSUMNOTREADY = const(8)  # tpacket_auxdata.tp_status: checksum partial
TP_STATUS_CSUM_VALID = const(0x80)
MSG_DONTWAIT = 0x40
MSG_TRUNC = const(0x20)
SPILL = const(65536)  # a superframe's tail beyond the first buffer: 64 KB IP + header
_VH = gso.VNET_HDR_LEN
_ZEROS = bytes(60)

# recvmsg(2)/send(2) through ffi, on an iovec built once: [virtio_net_hdr,
# the caller's buffer (an skb), the spill buffer]. Only the middle base moves
# per call, so an ordinary frame lands in the skb with no copy and nothing is
# allocated per frame. Interpreters without ffi (PyPI's prebuilt unix port)
# fall back to the socket object's recv()/send(), which allocate.
try:
    import ffi
    import uctypes
    _libc = ffi.open("libc.so.6")
    _recvmsg = _libc.func("i", "recvmsg", "ipi")
    _send = _libc.func("i", "send", "ilii")
    _addr = uctypes.addressof
    _W = struct.calcsize("P")
    _U = uctypes.UINT64 if _W == 8 else uctypes.UINT32
    _IOV = {"base": _U | 0, "len": _U | _W}
    _MSG = {"iov": _U | 2 * _W, "iovlen": _U | 3 * _W, "control": _U | 4 * _W,
            "controllen": _U | 5 * _W, "flags": uctypes.INT32 | 6 * _W}
except (ImportError, OSError, AttributeError):
    _recvmsg = _send = None


def _sysfs(ifname, attr):
    with open("/sys/class/net/%s/%s" % (ifname, attr)) as f:
        return f.read().strip()


class packet_sock:
    """An AF_PACKET socket on `ifname` with the virtio-net header (or, where the
    kernel refuses PACKET_VNET_HDR, PACKET_AUXDATA): recv() leaves the header in
    `hdr` whichever way it came, so callers see one format."""

    def __init__(self, ifname, vnet_hdr=True):
        try:
            import usocket as socket  # the built-in, even when a drop-in socket.py shadows `socket`
        except ImportError:
            import socket
        s = socket.socket(AF_PACKET, SOCK_RAW, 0)
        idx = int(_sysfs(ifname, "ifindex"))
        # struct sockaddr_ll: family, protocol (be16), ifindex, hatype, pkttype, halen, addr[8]
        try:
            s.bind(struct.pack("<HHiHBB8s", AF_PACKET, ETH_P_ALL_BE, idx, 0, 0, 0, b""))
        except TypeError:  # CPython (the rp2js bridge, host tools) binds with (ifname, protocol)
            s.bind((ifname, 0x0003))
        try:
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # kernels before 4.20: PacketDev filters outgoing frames by source MAC
        self.vnet = self.auxdata = False
        if vnet_hdr:
            try:
                s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
                self.vnet = True
            except OSError:
                pass
        if not self.vnet:
            if _recvmsg is not None:
                s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
                self.auxdata = True
            else:
                print("ksock: %s: no PACKET_VNET_HDR and no ffi for PACKET_AUXDATA: partial "
                      "checksums and superframes from this host cannot be told apart" % ifname)
        s.setblocking(False)
        self.sock = s
        self.fd = s.fileno()
        self.mtu = int(_sysfs(ifname, "mtu"))
        self.hdr = bytearray(_VH)
        self.spill = bytearray(SPILL + 2048)  # room for a superframe whole after gather
        self.l1 = 0  # bytes of the last frame that went to the caller's buffer
        if _recvmsg is not None:
            self._iov = bytearray(3 * 2 * _W)
            self._msg = bytearray(7 * _W)
            self._ctl = bytearray(64)  # one cmsg of struct tpacket_auxdata
            iov = self._iovs = [uctypes.struct(_addr(self._iov) + k * 2 * _W, _IOV, uctypes.NATIVE)
                                for k in range(3)]
            iov[0].base = _addr(self.hdr)
            iov[0].len = _VH if self.vnet else 0
            m = self._m = uctypes.struct(_addr(self._msg), _MSG, uctypes.NATIVE)
            m.iov = _addr(self._iov)
            m.iovlen = 3
        else:
            import select
            self._poll = select.poll()
            self._poll.register(s, select.POLLIN)

    def close(self):
        self.sock.close()

    def recv(self, buf, off):
        """Read one frame: its first len(buf)-off bytes into buf[off:], the rest into
        spill[len(buf)-off:] (the caller copies the head in front to make it whole).
        Returns its length without the header, 0 when nothing is queued, -1 when
        it was truncated."""
        l1 = self.l1 = len(buf) - off
        h = self.hdr
        if _recvmsg is not None:
            iov = self._iovs
            iov[1].base = _addr(buf) + off
            iov[1].len = l1
            iov[2].base = _addr(self.spill) + l1
            iov[2].len = SPILL
            m = self._m
            if self.auxdata:
                m.control = _addr(self._ctl)
                m.controllen = 64
            got = _recvmsg(self.fd, self._msg, MSG_DONTWAIT)
            if got <= 0:
                return 0
            if m.flags & MSG_TRUNC:
                return -1
            if self.vnet:
                return got - _VH
            h[0] = h[1] = 0
            if self.auxdata and m.controllen >= _W + 12:  # cmsghdr, then tpacket_auxdata.tp_status
                st = self._ctl[_W + 8] | (self._ctl[_W + 9] << 8)
                h[0] = (gso.VIRTIO_NET_HDR_F_NEEDS_CSUM if st & TP_STATUS_CSUMNOTREADY
                        else gso.VIRTIO_NET_HDR_F_DATA_VALID if st & TP_STATUS_CSUM_VALID else 0)
            return got
        if not self._poll.poll(0):
            return 0  # recv() below allocates its whole size before it can say EAGAIN
        try:
            b = self.sock.recv(SPILL + l1 + _VH)
        except OSError:
            return 0
        if not b:
            return 0
        got = len(b)
        if self.vnet:
            h[:] = b[:_VH]
            got -= _VH
            b = memoryview(b)[_VH:]
        else:
            h[0] = h[1] = 0
        k = got if got < l1 else l1
        buf[off:off + k] = b[:k]
        if got > k:
            self.spill[k:got] = b[k:got]
        return got

    def send(self, buf, off, n):
        """Send buf[off:off+n], which starts with the header when vnet is on."""
        if _send is not None:
            return 0 if _send(self.fd, _addr(buf) + off, n, MSG_DONTWAIT) >= 0 else -105
        self.sock.send(memoryview(buf)[off:off + n])
        return 0

    def gso_size(self, got):
        """MSS to cut the last frame by, 0 when it is not a TCPv4 superframe. Without
        the vnet header a frame above the MTU is one (the kernel kept it whole)."""
        h = self.hdr
        if self.vnet:
            return gso.vnet_gso_size(h, 0) if h[1] & 0x7F == gso.VIRTIO_NET_HDR_GSO_TCPV4 else 0
        return 1 if got > self.mtu + 14 else 0  # caller derives the MSS from the headers


class PacketDev(netdev.net_device):
    def __init__(self, ifname, name=None, mac=None, vnet_hdr=True):
        if mac is None:
            mac = bytes(int(x, 16) for x in _sysfs(ifname, "address").split(":"))
        super().__init__(name or ifname, mac, mtu=int(_sysfs(ifname, "mtu")))
        self.ifname = ifname
        self.vnet_hdr = vnet_hdr
        self.ps = None
        # like a NIC's ethtool -S: superframes taken and the segments cut from them
        self.rx_gso_frames = self.rx_gso_segs = self.rx_csum_partial = 0

    def ndo_open(self):
        self.ps = packet_sock(self.ifname, self.vnet_hdr)
        self.fd = self.ps.fd
        return 0

    def ndo_stop(self):
        if self.ps:
            self.ps.close()
            self.ps = None
        return 0

    def fileno(self):
        return self.ps.fd if self.ps else -1

    def ndo_start_xmit(self, skb):
        try:
            n = skb.len
            if n < 60:  # pad runts to the Ethernet minimum, as a NIC would
                skbuff.skb_put(skb, 60 - n)
                skbuff.skb_store_bits(skb, n, _ZEROS, 0, 60 - n)
            ps = self.ps
            if ps.vnet:
                # A zero header in the headroom: a complete frame, checksums done
                # (issue 16 sets GSO_TCPV4 / NEEDS_CSUM here to hand the kernel more).
                if skbuff.skb_headroom(skb) < _VH:
                    return -105
                skbuff.skb_push(skb, _VH)
                skbuff.skb_store_bits(skb, 0, _ZEROS, 0, _VH)
            return ps.send(skb.buf, skb.data, skb.len)
        except OSError as e:
            return -e.args[0]
        finally:
            skbuff.kfree_skb(skb)

    def poll(self, budget):
        n = 0
        st = self.stats
        ps = self.ps
        while n < budget:
            skb = netdev.netdev_alloc_skb()
            if skb is None:
                st.rx_dropped += 1  # pool empty: leave the frame in the kernel
                break
            skbuff.skb_reserve(skb, _VH)  # an skb turned around in place (echo reply) needs the room
            got = ps.recv(skb.buf, skb.data)
            if got <= 0:
                skbuff.kfree_skb(skb)
                if got == 0:
                    break
                st.rx_length_errors += 1  # longer than 64 KB: cut short, dropped
                st.rx_errors += 1
                continue
            h = ps.hdr
            if got > ps.l1 or ps.gso_size(got):
                n += self._rx_gso(skb, got)
                continue
            skbuff.skb_put(skb, got)
            f = h[0]
            if f & gso.VIRTIO_NET_HDR_F_NEEDS_CSUM:
                skb.ip_summed = skbuff.CHECKSUM_PARTIAL  # from this host, not the wire: trusted
                self.rx_csum_partial += 1
            elif f & gso.VIRTIO_NET_HDR_F_DATA_VALID:
                skb.ip_summed = skbuff.CHECKSUM_UNNECESSARY
            n += 1
            netdev.netif_receive_skb(skb, self)
        return n

    def _rx_gso(self, skb, got):
        """Software GSO of a TCPv4 superframe (skb_gso_segment when the device cannot
        take it whole): MSS-sized pool skbs, each trusted. Returns skbs handed up."""
        st = self.stats
        ps = self.ps
        src = ps.spill
        l1 = ps.l1
        # gather: the head from the skb in front of the spilled tail
        skbuff.skb_put(skb, l1 if got > l1 else got)
        skbuff.skb_copy_bits(skb, 0, src, 0, skb.len)
        skbuff.skb_trim(skb, 0)
        hlen = gso.tcp4_hlen(src, 0, got)
        mss = ps.gso_size(got)
        if hlen and not ps.vnet:
            mss = self.mtu - hlen + 14
        h = ps.hdr
        if not hlen or mss <= 0 or (ps.vnet and h[1] & 0x7F not in (0, gso.VIRTIO_NET_HDR_GSO_TCPV4)):
            skbuff.kfree_skb(skb)
            st.rx_dropped += 1  # a superframe that is not TCPv4 (UDP GSO, IPv6): not handled
            return 0
        plen = gso.tcp4_payload(src, 0, hlen)
        count = gso.tso_count(plen, mss)
        if hlen + (mss if mss < plen else plen) > skb.end - _VH:
            skbuff.kfree_skb(skb)
            st.rx_length_errors += 1  # an MSS beyond our frames
            st.rx_errors += 1
            return 0
        self.rx_gso_frames += 1
        i = 0
        p = hlen
        while i < count:
            if skb is None:
                skb = netdev.netdev_alloc_skb()
                if skb is None:
                    st.rx_dropped += count - i  # pool empty: TCP retransmits the rest
                    break
                skbuff.skb_reserve(skb, _VH)
            seg = plen - i * mss
            if seg > mss:
                seg = mss
            skbuff.skb_put(skb, hlen + seg)
            skbuff.skb_store_bits(skb, 0, src, 0, hlen)
            skbuff.skb_store_bits(skb, hlen, src, p, seg)
            gso.tso_fixup(skb.buf, skb.data, hlen, i, count, seg, mss)
            skb.ip_summed = skbuff.CHECKSUM_UNNECESSARY
            i += 1
            p += seg
            netdev.netif_receive_skb(skb, self)
            skb = None
        self.rx_gso_segs += i
        return i
