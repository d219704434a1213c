# sk_buff and checksum API (include/linux/skbuff.h, include/net/checksum.h).
# Uses the kskb C/native module when the firmware has it, the Python twin otherwise;
# KSOCK_SKB=python in the environment (unix port) forces the twin. docs/skbuff.md.
from ksock.compat import const, kskb


def _pick():
    try:
        import os
        if os.getenv("KSOCK_SKB") == "python":
            return None
    except (ImportError, AttributeError):
        pass
    return kskb


_impl = _pick()
if _impl is None:
    from ksock.net.core import skbuff_py as _impl

# skb.ip_summed (include/linux/skbuff.h): what a driver knows of the L4 checksum.
# NONE: verify it; UNNECESSARY: verified (or cut from a trusted superframe);
# PARTIAL: a local sender left it to "hardware" (a veth): trusted as on Linux.
CHECKSUM_NONE = const(0)
CHECKSUM_UNNECESSARY = const(1)
CHECKSUM_COMPLETE = const(2)
CHECKSUM_PARTIAL = const(3)

# Module-level names bound once: callers pay one global lookup per call, no wrapper.
IMPL = _impl.IMPL
Pool = _impl.Pool
Queue = sk_buff_head = _impl.sk_buff_head
sk_buff = _impl.sk_buff
kfree_skb = _impl.kfree_skb
csum_partial = _impl.csum_partial
csum_fold = _impl.csum_fold
csum_add = _impl.csum_add
csum_block_add = _impl.csum_block_add
ip_fast_csum = _impl.ip_fast_csum
csum_tcpudp_magic = _impl.csum_tcpudp_magic
skb_checksum = _impl.skb_checksum
skb_reserve = _impl.skb_reserve
skb_put = _impl.skb_put
skb_push = _impl.skb_push
skb_pull = _impl.skb_pull
skb_trim = _impl.skb_trim
skb_headroom = _impl.skb_headroom
skb_tailroom = _impl.skb_tailroom
skb_put_data = _impl.skb_put_data
skb_copy_bits = _impl.skb_copy_bits
skb_copy_datagram = _impl.skb_copy_datagram
skb_store_bits = _impl.skb_store_bits
skb_queue_tail = _impl.skb_queue_tail
skb_queue_head = _impl.skb_queue_head
skb_dequeue = _impl.skb_dequeue
skb_dequeue_tail = _impl.skb_dequeue_tail
skb_peek = _impl.skb_peek
skb_peek_tail = _impl.skb_peek_tail
skb_unlink = _impl.skb_unlink
skb_queue_len = _impl.skb_queue_len
skb_queue_empty = _impl.skb_queue_empty
skb_queue_purge = _impl.skb_queue_purge
skb_queue_splice_tail_init = _impl.skb_queue_splice_tail_init
