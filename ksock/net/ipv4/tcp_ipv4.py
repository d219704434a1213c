# net/ipv4/tcp_ipv4.c: the established hash (fixed chains of socks and request
# socks; TIME_WAIT records are inet_timewait_sock's), tcp_v4_connect,
# tcp_v4_rcv, tcp_v4_send_reset, the listener's SYN handling (tcp_conn_request
# with Linux's queue and cookie rules) and the /proc/net/tcp view.
from ksock.compat import const, PLATFORM
from ksock.kernel import time as ktime
from ksock.kernel import timer, softirq
from ksock.uapi.errno import EINVAL, EAFNOSUPPORT, ENETUNREACH, EADDRNOTAVAIL, ENOBUFS
from ksock.net.core import skbuff, sysctl, sk_mem
from ksock.net.ipv4 import devinet, ip_output, route
from ksock.net.ipv4 import inet_hashtables as ih
from ksock.net.ipv4 import inet_timewait_sock as itw
from ksock.net.ipv4 import request_sock as rq
from ksock.net.ipv4 import tcp, tcp_output, tcp_timer, tcp_input, tcp_minisocks, syncookies
from ksock.net.ipv4.proc import tcp as MIB, tcpext as XMIB
from ksock.net.core.sock import sock_flag, SOCK_KEEPOPEN
from ksock.net.ipv4.protocol import net_protocol, inet_add_protocol
from ksock.wire import tcp as wtcp
from ksock.wire import ipv4 as wip

EHASH_SIZE = const(256) if PLATFORM == "linux" else const(16)
_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_ACK = const(0x10)
TCP_TIMEOUT_INIT = const(1000)
PKT_HOST = const(0)
_CSUM_OK = const(1)  # skbuff.CHECKSUM_UNNECESSARY
_CSUM_PARTIAL = const(3)  # skbuff.CHECKSUM_PARTIAL

ehash = [None] * EHASH_SIZE


def _ehashfn(lport, rport):
    return (lport ^ (rport * 31)) & (EHASH_SIZE - 1)


def inet_ehash_insert(e):
    ih._chain_add(ehash, _ehashfn(e.inet_num, e.inet_dport), e)


def inet_ehash_remove(e):
    ih._chain_del(ehash, _ehashfn(e.inet_num, e.inet_dport), e)


def _addr_at(buf, off, a):
    return buf[off] == a[0] and buf[off + 1] == a[1] and buf[off + 2] == a[2] and buf[off + 3] == a[3]


def __inet_lookup_established(buf, nh, sport, dport):
    chain = ehash[_ehashfn(dport, sport)]
    if chain is None:
        return None
    for e in chain:
        if (e.inet_num == dport and e.inet_dport == sport and _addr_at(buf, nh + 12, e.inet_daddr)
                and _addr_at(buf, nh + 16, e.inet_rcv_saddr)):
            return e
    return None


def _tuple_in_use(laddr, lport, raddr, rport):
    """__inet_check_established: is the 4-tuple taken? A TIME_WAIT record
    takes it too: Linux lets connect() reuse one (tcp_twsk_unique) only with
    the peer's timestamps, which ksock does not negotiate."""
    chain = ehash[_ehashfn(lport, rport)]
    for e in chain or ():
        if e.inet_num == lport and e.inet_dport == rport and e.inet_daddr == raddr and e.inet_rcv_saddr == laddr:
            return True
    return itw.inet_twsk_find(laddr, lport, raddr, rport) >= 0


def _connect_owned(owners):
    """Every owner got the port from connect() (Linux: tb->fastreuse < 0)."""
    for o in owners:
        if not o.icsk_bind_connect:
            return False
    return True


def tcp_v4_unhash(sk):
    ih.inet_unhash(sk)
    inet_ehash_remove(sk)
    return 0


# ---- secure initial sequence numbers ---------------------------------------------

_isn_key = [0x5DEECE66]


def secure_tcp_seq(saddr, daddr, sport, dport):
    """RFC 6528: a keyed hash of the 4-tuple plus a 4 us clock."""
    h = syncookies.cookie_hash(saddr, daddr, sport, dport, _isn_key[0], 0)
    return (h + (ktime.clock.now_us() >> 2)) & 0xFFFFFFFF


def tcp_ipv4_seed(seed):
    _isn_key[0] = seed & 0x3FFFFFFF
    syncookies.cookie_init(seed)


# ---- active open ------------------------------------------------------------------

def inet_hash_connect(sk):
    """A local port for connect(): the bound one (the 4-tuple must be free), or
    an ephemeral port (odd ones first) that is unused or held only by earlier
    connect()s (their socks or TIME_WAIT records) with another 4-tuple, as
    __inet_hash_connect; EADDRNOTAVAIL when none is left."""
    hinfo = sk.sk_prot.h
    if sk.inet_num:
        if _tuple_in_use(sk.inet_rcv_saddr, sk.inet_num, sk.inet_daddr, sk.inet_dport):
            return -EADDRNOTAVAIL
    else:
        low, high = ih.inet_get_local_port_range()
        laddr, raddr, rport = sk.inet_rcv_saddr, sk.inet_daddr, sk.inet_dport
        for port in ih.inet_port_candidates(low, high, False):
            owners = ih.inet_bind_owners(hinfo, port)
            if not owners or (_connect_owned(owners) and not _tuple_in_use(laddr, port, raddr, rport)):
                break
        else:
            return -EADDRNOTAVAIL
        ih.inet_bind_hash(sk, hinfo, port)
        sk.icsk_bind_connect = 1
        sk.inet_sport = port
    inet_ehash_insert(sk)
    return 0


def tcp_v4_connect(sk, uaddr, addr_len):
    if addr_len < 16:
        return -EINVAL
    if uaddr[0] | (uaddr[1] << 8) != 2:
        return -EAFNOSUPPORT
    daddr = bytes(uaddr[4:8])
    if daddr == devinet.INADDR_ANY:
        daddr = devinet.INADDR_LOOPBACK  # as Linux: 0.0.0.0 is this host
    dport = (uaddr[2] << 8) | uaddr[3]
    t = devinet.inet_addr_type(daddr)
    if t == devinet.RTN_BROADCAST or t == devinet.RTN_MULTICAST:
        return -ENETUNREACH
    rt = ip_output.ip_route_connect(daddr)
    if isinstance(rt, int):
        return rt
    # the SYN's retransmit timer (and SO_KEEPALIVE's): ENOBUFS before any state changes
    if not tcp_timer.tcp_rtx_timer_make(sk) or (sock_flag(sk, SOCK_KEEPOPEN)
                                                and not tcp_timer.tcp_ka_timer_make(sk)):
        return -ENOBUFS
    if rt[1] == daddr:
        daddr = rt[1]  # the route's copy: one address object per peer, not per connection
    if sk.inet_saddr == devinet.INADDR_ANY:
        sk.inet_saddr = rt[2]
    if sk.inet_rcv_saddr == devinet.INADDR_ANY:
        sk.inet_rcv_saddr = sk.inet_saddr
    sk.inet_daddr = daddr
    sk.inet_dport = dport
    tcp.tcp_set_state(sk, tcp.TCP_SYN_SENT)
    err = inet_hash_connect(sk)
    if not err:
        err = tcp_output.tcp_connect_init(sk, rt)
    if err:
        tcp.tcp_set_state(sk, tcp.TCP_CLOSE)
        sk.inet_dport = 0
        sk.inet_daddr = devinet.INADDR_ANY
        return err
    iss = secure_tcp_seq(sk.inet_saddr, daddr, sk.inet_sport, dport)
    sk.snd_una = sk.snd_nxt = sk.snd_max = sk.snd_wl1 = iss
    sk.write_seq = sk.snd_base = iss + 1
    MIB.ActiveOpens += 1
    tcp_output.tcp_connect(sk)
    return 0


# ---- input ------------------------------------------------------------------------

def tcp_v4_send_reset(skb, th, hl, flags):
    """RST for a segment no socket wants (RFC 9293 3.10.7.1): if it had an ACK,
    <SEQ=SEG.ACK><CTL=RST>, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    if flags & _RST or skb.cb[0] != PKT_HOST:
        return
    buf = skb.buf
    nh = skb.network_header
    saddr = wip.saddr(buf, nh)
    rt = ip_output.ip_route(saddr)
    if isinstance(rt, int):
        return
    sport = (buf[th] << 8) | buf[th + 1]
    dport = (buf[th + 2] << 8) | buf[th + 3]
    if flags & _ACK:
        seqno, ackno, f = wtcp.ack_seq(buf, th), 0, _RST
    else:
        ln = skb.len - hl + (1 if flags & _SYN else 0) + (flags & _FIN)
        seqno, ackno, f = 0, wtcp.seq(buf, th) + ln, _RST | _ACK
    tcp_output.tcp_send_ctl(rt, wip.daddr(buf, nh), saddr, dport, sport, seqno, ackno, f, 0)


def tcp_v4_rcv(skb):
    buf = skb.buf
    th = skb.data
    n = skb.len
    if n < 20:
        MIB.InErrs += 1
        skbuff.kfree_skb(skb)
        return
    hl = (buf[th + 12] >> 4) << 2
    nh = skb.network_header
    if hl < 20 or hl > n:
        MIB.InErrs += 1
        skbuff.kfree_skb(skb)
        return
    # tcp_checksum_init: UNNECESSARY/PARTIAL (a trusted driver said so) skip the sum
    cs = skb.ip_summed
    if (cs != _CSUM_OK and cs != _CSUM_PARTIAL
            and skbuff.csum_tcpudp_magic(buf, nh, n, 6, skbuff.csum_partial(buf, th, n)) != 0):
        MIB.InCsumErrors += 1
        MIB.InErrs += 1
        skbuff.kfree_skb(skb)
        return
    MIB.InSegs += 1
    if skb.cb[0] != PKT_HOST:
        skbuff.kfree_skb(skb)  # TCP is unicast only
        return
    sport = (buf[th] << 8) | buf[th + 1]
    dport = (buf[th + 2] << 8) | buf[th + 3]
    flags = buf[th + 13]
    try:
        sk = __inet_lookup_established(buf, nh, sport, dport)
        if sk is None:
            tw = itw.inet_twsk_lookup(buf, nh, sport, dport)
            if tw >= 0:
                tcp_minisocks.tcp_timewait_state_process(tw, skb, th, hl, flags)
            else:
                lsk = ih.inet_lookup_listener(tcp.tcp_hashinfo, wip.daddr(buf, nh), dport)
                if lsk is None or tcp_v4_rcv_listen(lsk, skb, th, hl, flags):
                    tcp_v4_send_reset(skb, th, hl, flags)
        else:
            if sk.sk_state == tcp.TCP_NEW_SYN_RECV:
                tcp_minisocks.tcp_check_req(sk, skb, th, hl, flags)
            elif tcp_input.tcp_rcv_state_process(sk, skb, th, hl, flags):
                tcp_v4_send_reset(skb, th, hl, flags)
    except MemoryError:
        XMIB.TCPRcvQDrop += 1  # a full heap drops the segment (the peer retransmits), never the loop
    skbuff.kfree_skb(skb)


def tcp_v4_rcv_listen(sk, skb, th, hl, flags):
    """A segment for a listener (tcp_rcv_state_process, LISTEN): a SYN opens a
    request, a cookie ACK may open a connection; True means answer with RST."""
    if flags & _ACK:
        if not flags & (_SYN | _RST) and sysctl.sysctl("net.ipv4.tcp_syncookies"):
            r = tcp_minisocks.cookie_v4_check(sk, skb, th, hl, flags)
            if r >= 0:
                return False if r else True
        return True  # RFC 9293: an ACK to a listener gets a reset
    if flags & _RST:
        return False
    if flags & _SYN and not flags & _FIN:
        tcp_conn_request(sk, skb, th, hl)
    return False


def tcp_conn_request(sk, skb, th, hl):
    """tcp_conn_request: a request sock in the SYN queue and a SYN-ACK, or a
    cookie when the queue is full; the SYN is dropped (ListenOverflows) when
    the accept queue is full. Requests made earlier in this receive pass count
    as the children they are about to become (request_sock.py)."""
    q = sk.icsk_accept_queue
    if not sk_mem.tcp_may_admit():
        XMIB.ListenDrops += 1  # over the memory budget: no SYN-ACK, the peer's connect times out
        return
    cookies = sysctl.sysctl("net.ipv4.tcp_syncookies")
    want_cookie = False
    un = rq.reqsk_queue_unanswered(q)  # counted as children, not as requests (request_sock.py)
    if cookies == 2 or q.qlen - un > sk.sk_max_ack_backlog:
        if cookies:
            want_cookie = True
            XMIB.TCPReqQFullDoCookies += 1
        else:
            XMIB.TCPReqQFullDrop += 1
            XMIB.ListenDrops += 1
            return
    if sk.sk_ack_backlog + un > sk.sk_max_ack_backlog:  # sk_acceptq_is_full
        XMIB.ListenOverflows += 1  # the SYN is dropped: the client retries it (1 s, 3 s, ...)
        XMIB.ListenDrops += 1
        return
    buf = skb.buf
    nh = skb.network_header
    saddr = wip.saddr(buf, nh)
    daddr = wip.daddr(buf, nh)
    max_syn = sysctl.sysctl("net.ipv4.tcp_max_syn_backlog")
    if not want_cookie and not cookies and max_syn - q.qlen < (max_syn >> 2):
        XMIB.ListenDrops += 1  # the last quarter of the SYN queue is kept for proven peers
        return
    rt = ip_output.ip_route_connect(saddr)
    if isinstance(rt, int):
        XMIB.ListenDrops += 1
        return
    if rt[1] == saddr:  # the addresses the request and its child keep: the route's objects
        saddr = rt[1]
    if rt[2] == daddr:
        daddr = rt[2]
    mss, ws = wtcp.parse_syn_opts(buf, th, hl)
    sport = (buf[th] << 8) | buf[th + 1]
    dport = (buf[th + 2] << 8) | buf[th + 3]
    rcv_isn = wtcp.seq(buf, th)
    advmss = tcp_output.tcp_advmss(sk, rt)
    rsize = tcp_output.tcp_rcv_ring_size(sk)
    win = rsize if rsize < 0xFFFF else 0xFFFF
    if want_cookie:
        isn, mss = syncookies.cookie_v4_init_sequence(saddr, daddr, sport, dport, rcv_isn, mss or 536)
        syncookies.tcp_synq_overflow(sk)
        XMIB.SyncookiesSent += 1
        tcp_output.tcp_send_ctl(rt, daddr, saddr, dport, sport, isn, rcv_isn + 1, _SYN | _ACK, win, advmss, -1)
        return
    try:
        req = rq.request_sock(sk)
        req.rsk_timer = timer.timer_list(tcp_minisocks.reqsk_timer_handler, req)
    except MemoryError:
        XMIB.ListenDrops += 1  # reqsk_alloc failed: the peer's SYN comes again
        return
    req.inet_num = dport
    req.inet_dport = sport
    req.inet_rcv_saddr = daddr
    req.inet_daddr = saddr
    req.rcv_isn = rcv_isn
    req.snt_isn = secure_tcp_seq(daddr, saddr, dport, sport)
    req.mss = mss or 536
    req.rt = rt
    if ws >= 0 and sysctl.sysctl("net.ipv4.tcp_window_scaling"):
        req.wscale_ok = 1
        req.snd_wscale = ws
        req.rcv_wscale = tcp_output.tcp_rcv_wscale(rsize)
    req.rcv_wnd = win
    req.snd_wnd = (buf[th + 14] << 8) | buf[th + 15]
    inet_ehash_insert(req)
    rq.reqsk_queue_added(q, req)
    timer.mod_timer_in(req.rsk_timer, TCP_TIMEOUT_INIT)
    req.snt_synack = ktime.clock.now_ms()
    tcp_minisocks.tcp_v4_send_synack(req)


tcp_protocol = net_protocol(tcp_v4_rcv, None)


def tcp_v4_err(skb, type, code, inner):
    """ICMP about a segment we sent: hard errors end a connection attempt;
    on an established connection they are soft (sk_err_soft), as Linux."""
    buf = skb.buf
    ihl = (buf[inner] & 0xF) * 4
    th = inner + ihl
    sport = (buf[th] << 8) | buf[th + 1]
    dport = (buf[th + 2] << 8) | buf[th + 3]
    chain = ehash[_ehashfn(sport, dport)]
    for e in chain or ():
        if e.inet_num == sport and e.inet_dport == dport and _addr_at(buf, inner + 16, e.inet_daddr):
            if e.sk_state == tcp.TCP_NEW_SYN_RECV:
                return
            from ksock.net.ipv4.udp import _ERRMAP
            if type != 3:
                return
            err = _ERRMAP.get(code, (113, 0))[0]
            if e.sk_state == tcp.TCP_SYN_SENT:
                e.sk_err = err
                tcp.tcp_done(e)
                e.sk_error_report(e)
            else:
                e.sk_err_soft = err
            return


tcp_protocol.err_handler = tcp_v4_err


def proto_init():
    inet_add_protocol(tcp_protocol, wip.IPPROTO_TCP)
    sk_mem.tcp_init_mem()
    itw.inet_twsk_init(sk_mem.heap_size())
    sk_mem.tcp_memory.enter_memory_pressure = tcp.tcp_enter_memory_pressure
    tcp_ipv4_seed(ktime.clock.now_us() ^ id(ehash))


tcp.tcp_prot.connect = tcp_v4_connect
tcp.tcp_prot.unhash = tcp_v4_unhash
tcp_minisocks.ops.ehash_insert = inet_ehash_insert
tcp_minisocks.ops.ehash_remove = inet_ehash_remove
tcp_minisocks.ops.send_reset = tcp_v4_send_reset
tcp_minisocks.ops.conn_request = tcp_conn_request
softirq.register_post_rx(rq.reqsk_rx_pass_end)


# ---- /proc/net/tcp ----------------------------------------------------------------
# Produced a line at a time, as seq_file calls tcp4_seq_show per entry: a reader
# takes one line, writes it out and asks for the next, so any number of
# sockets (tens of thousands of TIME_WAIT records) never makes one big string.

def _fmt(i, laddr, lport, raddr, rport, st, txq, rxq, tr, when, uid, ino):
    return "%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08X 00000000 %5d        0 %d" % (
        i, devinet.addr_proc(laddr or devinet.INADDR_ANY), lport, devinet.addr_proc(raddr or devinet.INADDR_ANY),
        rport, st, txq, rxq, tr, when, uid, ino)


def _line(i, e, st, txq, rxq, uid, ino, tmr):
    return _fmt(i, e.inet_rcv_saddr, e.inet_num, e.inet_daddr, e.inet_dport, st, txq, rxq, tmr[0], tmr[1],
                uid, ino)


def _timer_of(t):
    if t is None or t._slot < 0:
        return (0, 0)
    return (1, max(0, ktime.clock.diff(t.expires, ktime.clock.now_ms())) // 10)


def get_timewait4_sock(tw, i):
    """A TIME_WAIT line as Linux prints it: tw_substate, timer 3 with the
    time to live in clock ticks (USER_HZ 100), no uid or inode."""
    laddr, raddr = itw.tw_addrs(tw)
    lport, rport = itw.tw_ports(tw)
    return _fmt(i, laddr, lport, raddr, rport, itw.tw_substate(tw), 0, 0, 3, itw.tw_ttd(tw) // 10, 0, 0)


def tcp4_seq_show():
    """The lines of /proc/net/tcp (header first), one per step: listeners,
    then the established hash, then the TIME_WAIT records."""
    yield "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    i = 0
    for chain in tcp.tcp_hashinfo.listening_hash:
        for sk in chain or ():
            ino = sk.sk_socket.i_ino if sk.sk_socket is not None else 0
            yield _line(i, sk, 10, sk.sk_max_ack_backlog, sk.sk_ack_backlog, sk.sk_uid, ino, (0, 0))
            i += 1
    for chain in ehash:
        for e in chain or ():
            if e.sk_state == tcp.TCP_NEW_SYN_RECV:
                yield _line(i, e, 3, 0, 0, 0, 0, _timer_of(e.rsk_timer))
            else:
                txq = max(0, e.write_seq - e.snd_una)
                ino = e.sk_socket.i_ino if e.sk_socket is not None else 0
                yield _line(i, e, e.sk_state, txq, tcp.tcp_inq(e), e.sk_uid, ino, _timer_of(e.rtx_timer))
            i += 1
    for tw in itw.inet_twsk_walk():
        yield get_timewait4_sock(tw, i)
        i += 1


def proc_net_tcp():
    """/proc/net/tcp as one string (small tables; a reader of a large one
    takes tcp4_seq_show's lines one by one)."""
    return "\n".join(tcp4_seq_show())


def proc_net_netstat():
    from ksock.net.ipv4 import proc
    return proc.proc_net_netstat()


def tcp_socks_iter():
    """Every TCP endpoint as (state name, local, remote, rx_queue, tx_queue): ss -t."""
    for chain in tcp.tcp_hashinfo.listening_hash:
        for sk in chain or ():
            yield ("LISTEN", (devinet.inet_ntoa(sk.inet_rcv_saddr), sk.inet_num), None,
                   sk.sk_ack_backlog, sk.sk_max_ack_backlog)
    for chain in ehash:
        for e in chain or ():
            st = e.sk_state
            rx = tx = 0
            if st != tcp.TCP_NEW_SYN_RECV:
                rx, tx = tcp.tcp_inq(e), max(0, e.write_seq - e.snd_una)
            yield (tcp.TCP_STATE_NAMES[3 if st == tcp.TCP_NEW_SYN_RECV else st],
                   (devinet.inet_ntoa(e.inet_rcv_saddr), e.inet_num),
                   (devinet.inet_ntoa(e.inet_daddr), e.inet_dport), rx, tx)
    for tw in itw.inet_twsk_walk():
        laddr, raddr = itw.tw_addrs(tw)
        lport, rport = itw.tw_ports(tw)
        yield (tcp.TCP_STATE_NAMES[itw.tw_substate(tw)], (devinet.inet_ntoa(laddr), lport),
               (devinet.inet_ntoa(raddr), rport), 0, 0)


def tcp_socks():
    return list(tcp_socks_iter())


def proc_net_sockstat():
    """/proc/net/sockstat: sockets in use; TCP inuse/orphan/tw/alloc; UDP inuse."""
    from ksock.net import socket as net_socket
    from ksock.net.ipv4 import udp
    from ksock.net.core.sock import sock_flag, SOCK_DEAD
    inuse = orphan = alloc = 0
    for chain in tcp.tcp_hashinfo.listening_hash:
        for sk in chain or ():
            inuse += 1
            alloc += 1
    for chain in ehash:
        for e in chain or ():
            if e.sk_state != tcp.TCP_NEW_SYN_RECV:
                alloc += 1
                inuse += 1
                if sock_flag(e, SOCK_DEAD):
                    orphan += 1
    u = 0
    for chain in udp.udp_table_v4.hash:
        u += len(chain or ())
    return "sockets: used %d\nTCP: inuse %d orphan %d tw %d alloc %d mem %d\nUDP: inuse %d mem %d" % (
        net_socket.sockets_in_use(), inuse, orphan, itw.tw_count(), alloc,
        sk_mem.pages(sk_mem.tcp_memory.allocated), u, udp.udp_memory_pages())
