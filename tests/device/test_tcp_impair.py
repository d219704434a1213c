# hil: timeout=600
# Seeded random impairment in simulated time: a bulk transfer both ways between
# a connect()ed and an accept()ed socket of the same stack over lo replaced by
# ImpairLo (loss, duplication, delay jitter that reorders), checking every byte
# and the clean close. Each item loops over its seeds and names the one that fails.
from ksock import sys as K, stack
from ksock.kernel import time as kt
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import tcp_ipv4, tcp as T
from ksock.testing.tcpscript import ImpairLo, Rand, advance, now

stack.init()
kt.set_clock(kt.SimClock(0))
BIG = TARGET not in ("qemu", "rp2js", "rp2js-natmod") and not TARGET.startswith("serial")  # boards: small runs
N = 100000 if BIG else 16000  # bytes each way


def fill(buf, off, n, salt):
    """Byte j of a stream is a function of j (and the seed): any chunk can be made
    again to check what arrived, so no whole copy is kept (the board's heap)."""
    for i in range(n):
        j = off + i
        buf[i] = ((j ^ (j >> 8) * 167 ^ (j >> 16) * 59) * 73 + salt) & 0xFF


CH = 1024


def nb(f, *a):
    try:
        return f(*a)
    except OSError as e:
        if e.args[0] != 11:
            raise
        return None


def one(seed):
    import gc
    gc.collect()
    r = Rand(seed * 7919 + 1)
    lo = netdev.dev_get_by_name("lo")
    netdev.unregister_netdev(lo)
    link = ImpairLo(seed, loss=2 + r.next() % 5, dup=1 + r.next() % 3, delay=1, jitter=r.next() % 12)
    stack.add_dev(link)
    tcp_ipv4.tcp_ipv4_seed(seed)
    port = 30000 + seed * 2
    try:
        lfd = K.socket(2, 1 | K.SOCK_NONBLOCK)
        K.bind(lfd, ("127.0.0.1", port))
        if r.next() & 1:  # half the seeds: a small window (zero-window and persist paths)
            K.setsockopt(lfd, K.SOL_SOCKET, K.SO_RCVBUF, 4096)
        K.listen(lfd, 4)
        c = K.socket(2, 1 | K.SOCK_NONBLOCK)
        K.bind(c, ("127.0.0.1", port + 1))
        try:
            K.connect(c, ("127.0.0.1", port))
        except OSError as e:
            assert e.args[0] == 115
        t0 = now()
        s = None
        while s is None:
            s = nb(K.accept4, lfd, K.SOCK_NONBLOCK)
            if s is None:
                advance(5)
            assert now() - t0 < 120000, "no handshake"
        s = s[0]
        K.close(lfd)
        salt = (r.next() & 0xFF, r.next() & 0xFF)  # c->s, s->c
        sb = (bytearray(CH), bytearray(CH))  # the chunk being sent
        sv = (memoryview(sb[0]), memoryview(sb[1]))
        sl = [0, 0]  # its length
        so = [0, 0]  # how much of it is sent
        rb = bytearray(CH)
        eb = bytearray(CH)
        rv, ev = memoryview(rb), memoryview(eb)
        got = [0, 0]
        sent = [0, 0]
        eof = [False, False]
        fds = (c, s)
        while not (eof[0] and eof[1]):
            work = 0
            for i in (0, 1):
                a, b = fds[i], fds[1 - i]
                if sent[i] < N:
                    if so[i] == sl[i]:  # the chunk is all sent: make the next one
                        so[i] = 0
                        sl[i] = min(CH, N - sent[i])
                        fill(sb[i], sent[i], sl[i], salt[i])
                    k = nb(K.send, a, sv[i][so[i]:sl[i]], K.MSG_DONTWAIT)
                    if k:
                        work += 1
                        sent[i] += k
                        so[i] += k
                        if sent[i] == N:
                            K.shutdown(a, K.SHUT_WR)
                if not eof[i]:
                    d = nb(K.recvfrom_into, b, rb, 0, K.MSG_DONTWAIT)
                    if d is not None:
                        work += 1
                        n = d[0]
                        if not n:
                            eof[i] = True
                            continue
                        assert got[i] + n <= N, "dir %d: more than was sent" % i
                        fill(eb, got[i], n, salt[i])
                        assert rv[:n] == ev[:n], "dir %d: bad bytes in [%d, %d)" % (i, got[i], got[i] + n)
                        got[i] += n
            if not work:
                advance(3)
            assert now() - t0 < 1200000, "stalled: sent %r got %r" % (sent, got)
        assert got == [N, N], got
        K.close(c)
        K.close(s)
        t1 = now()
        while state_of(port + 1, port) not in (T.TCP_TIME_WAIT, 7) or state_of(port, port + 1) != 7:
            advance(50)  # both ends finish their FIN exchange over the impaired link
            assert now() - t1 < 300000, "close did not finish: %d %d" % (
                state_of(port + 1, port), state_of(port, port + 1))
        return link
    finally:
        K.close_range(3)
        netdev.unregister_netdev(link)
        stack.add_dev(lo)


def state_of(lport, rport):
    """The state of the end on lport, as the established hash holds it (7: gone)."""
    for chain in tcp_ipv4.ehash:
        for e in chain or ():
            if e.inet_num == lport and e.inet_dport == rport:
                return e.sk_state
    from ksock.net.ipv4 import inet_timewait_sock as itw
    for tw in itw.inet_twsk_walk():
        if itw.tw_ports(tw) == (lport, rport):
            return 6
    return 7


def seeds(first, n):
    imp = [0, 0, 0]
    for seed in range(first, first + n):
        try:
            link = one(seed)
        except Exception as e:
            raise AssertionError("seed %d: %r" % (seed, e))
        imp[0] += link.dropped
        imp[1] += link.duped
        imp[2] += link.sent
    assert imp[0] and (imp[1] or not BIG), "the link did not impair enough: %r" % imp
    print("seeds %d..%d: dropped %d duplicated %d of %d frames" % (first, first + n - 1, imp[0], imp[1], imp[2]))


# 20 seeds on the unix ports, 5 on the board (its time is scarce)
def test_bulk_impaired_link_seeds_0_to_9():
    seeds(0, 10 if BIG else 3)


def test_bulk_impaired_link_seeds_10_to_19():
    seeds(10, 10 if BIG else 2)
