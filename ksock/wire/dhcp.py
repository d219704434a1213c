# DHCP/BOOTP messages (RFC 2131 section 2, options RFC 2132): a fixed 236-byte
# header, the magic cookie, then TLV options. Stateless: parse/emit only.
from struct import unpack_from, pack_into
from ksock.compat import const

BOOTREQUEST = const(1)
BOOTREPLY = const(2)
DHCP_HLEN = const(240)  # header + magic cookie
BOOTP_MIN = const(300)  # RFC 1542: relays may drop shorter BOOTP messages
MAGIC = b"\x63\x82\x53\x63"
FLAG_BROADCAST = const(0x8000)

# message types (option 53)
DHCPDISCOVER = const(1)
DHCPOFFER = const(2)
DHCPREQUEST = const(3)
DHCPDECLINE = const(4)
DHCPACK = const(5)
DHCPNAK = const(6)
DHCPRELEASE = const(7)

# options
OPT_PAD = const(0)
OPT_SUBNET_MASK = const(1)
OPT_ROUTER = const(3)
OPT_DNS = const(6)
OPT_HOSTNAME = const(12)
OPT_DOMAIN = const(15)
OPT_BROADCAST = const(28)
OPT_REQUESTED_IP = const(50)
OPT_LEASE_TIME = const(51)
OPT_OVERLOAD = const(52)
OPT_MSG_TYPE = const(53)
OPT_SERVER_ID = const(54)
OPT_PARAM_LIST = const(55)
OPT_MAX_SIZE = const(57)
OPT_T1 = const(58)
OPT_T2 = const(59)
OPT_CLIENT_ID = const(61)
OPT_END = const(255)


def emit_into(buf, op, xid, flags, ciaddr, chaddr, secs=0):
    """The fixed header and the cookie at buf[0:240]; returns 240 (options follow)."""
    for i in range(DHCP_HLEN):
        buf[i] = 0
    pack_into(">BBBBIHH", buf, 0, op, 1, 6, 0, xid, secs, flags)
    buf[12:16] = ciaddr
    buf[28:34] = chaddr
    buf[236:240] = MAGIC
    return DHCP_HLEN


def opt_into(buf, off, code, data):
    """One option at `off`; returns the offset after it."""
    n = len(data)
    buf[off] = code
    buf[off + 1] = n
    buf[off + 2:off + 2 + n] = data
    return off + 2 + n


def parse(buf, n):
    """(op, xid, flags, yiaddr, chaddr, opts) or None; opts maps code -> bytes
    (repeated codes concatenate, RFC 3396; overloaded file/sname are read)."""
    if n < DHCP_HLEN or bytes(buf[236:240]) != MAGIC:
        return None
    op, htype, hlen, _, xid, _, flags = unpack_from(">BBBBIHH", buf, 0)
    if htype != 1 or hlen != 6:
        return None
    opts = {}
    if not _opts(buf, DHCP_HLEN, n, opts):
        return None
    ov = opts.get(OPT_OVERLOAD)
    if ov and len(ov) == 1:
        if ov[0] & 1 and not _opts(buf, 108, 236, opts):
            return None
        if ov[0] & 2 and not _opts(buf, 44, 108, opts):
            return None
    return op, xid, flags, bytes(buf[16:20]), bytes(buf[28:34]), opts


def _opts(buf, off, end, opts):
    while off < end:
        c = buf[off]
        if c == OPT_END:
            return True
        if c == OPT_PAD:
            off += 1
            continue
        if off + 2 > end:
            return False
        ln = buf[off + 1]
        if off + 2 + ln > end:
            return False  # an option running past the message: malformed
        v = bytes(buf[off + 2:off + 2 + ln])
        opts[c] = opts[c] + v if c in opts else v
        off += 2 + ln
    return True
