# lo (drivers/net/loopback.c): transmit is receive. Frames queue on the device
# and come back in through netif_receive_skb on the next softirq pass.
from ksock.net.core import dev as netdev
from ksock.net.core import skbuff
from ksock.kernel import softirq


class LoopbackDev(netdev.net_device):
    idle_poll = False  # frames only appear here while the loop is busy: never poll when idle

    def __init__(self):
        super().__init__("lo", b"\x00" * 6, mtu=65536, flags=netdev.IFF_LOOPBACK)
        self.mtu = 1500  # bounded by the skb data area, not 64K as on Linux
        self.rxq = skbuff.Queue()

    def ndo_start_xmit(self, skb):
        skbuff.skb_queue_tail(self.rxq, skb)
        softirq.bh_pending = 1
        return 0

    def poll(self, budget):
        n = 0
        while n < budget:
            skb = skbuff.skb_dequeue(self.rxq)
            if skb is None:
                break
            n += 1
            netdev.netif_receive_skb(skb, self)
        return n

    def ndo_stop(self):
        skbuff.skb_queue_purge(self.rxq)
        return 0
