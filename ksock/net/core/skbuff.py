# sk_buff and checksum API (include/linux/skbuff.h, include/net/checksum.h).
# Uses the kskb C/native module when the firmware has it, the Python twin otherwise;
# KSOCK_SKB=python in the environment (unix port) forces the twin.
from ksock.compat import kskb


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

IMPL = _impl.IMPL
csum_partial = _impl.csum_partial


def csum_fold(s):
    """Complemented 16-bit checksum field value from a partial sum."""
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_fast_csum(buf, off, ihl):
    """IPv4 header checksum over ihl 32-bit words; 0 when the header verifies."""
    return csum_fold(csum_partial(buf, off, ihl * 4))
