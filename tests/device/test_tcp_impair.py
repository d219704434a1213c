# hil: timeout=600
# Seeded random impairment in simulated time: a bulk transfer both ways between
# a connect()ed and an accept()ed socket of the same stack over lo replaced by
# ImpairLo (loss, duplication, delay jitter that reorders), checking every byte
# and the clean close. Each item loops over its seeds and names the one that fails.
from ksock import sys as K, stack
from ksock.kernel import time as kt
from ksock.net.core import dev as netdev
from ksock.net.ipv4 import tcp_ipv4, tcp as T
from ksock.testing.tcpscript import ImpairLo, Rand, advance, now, sk_of

stack.init()
kt.set_clock(kt.SimClock(0))
BIG = TARGET not in ("qemu",) and not TARGET.startswith("serial")
N = 100000 if BIG else 6000  # bytes each way


def pattern(r, n):
    b = bytearray(n)
    for i in range(0, n, 4):
        x = r.next()
        b[i:i + 4] = x.to_bytes(4, "little")[:n - i]
    return b


def nb(f, *a):
    try:
        return f(*a)
    except OSError as e:
        if e.args[0] != 11:
            raise
        return None


def one(seed):
    r = Rand(seed * 7919 + 1)
    lo = netdev.dev_get_by_name("lo")
    netdev.unregister_netdev(lo)
    link = ImpairLo(seed, loss=r.next() % 6, dup=r.next() % 3, delay=1, jitter=r.next() % 12)
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
        out = (pattern(r, N), pattern(r, N))  # c->s, s->c
        got = (bytearray(), bytearray())
        sent = [0, 0]
        eof = [False, False]
        fds = (c, s)
        while not (eof[0] and eof[1]):
            work = 0
            for i in (0, 1):
                a, b = fds[i], fds[1 - i]
                if sent[i] < N:
                    k = nb(K.send, a, memoryview(out[i])[sent[i]:sent[i] + 3000], K.MSG_DONTWAIT)
                    if k:
                        sent[i] += k
                        work += 1
                        if sent[i] == N:
                            K.shutdown(a, K.SHUT_WR)
                if not eof[i]:
                    d = nb(K.recv, b, 2048, K.MSG_DONTWAIT)
                    if d is not None:
                        work += 1
                        if d:
                            got[i].extend(d)
                        else:
                            eof[i] = True
            if not work:
                advance(3)
            assert now() - t0 < 1200000, "stalled: sent %r got %d/%d" % (sent, len(got[0]), len(got[1]))
        for i in (0, 1):
            assert len(got[i]) == N and got[i] == out[i], "dir %d: %d bytes, first bad at %d" % (
                i, len(got[i]), next((j for j in range(min(N, len(got[i]))) if got[i][j] != out[i][j]), -1))
        K.close(c)
        K.close(s)
        t1 = now()
        while sk_of_state(port) not in (T.TCP_TIME_WAIT, 7):
            advance(50)
            assert now() - t1 < 300000, "close did not finish"
        return link
    finally:
        K.close_range(3)
        netdev.unregister_netdev(link)
        stack.add_dev(lo)


def sk_of_state(port):
    """The state of the client end (port + 1), as the established hash holds it."""
    for chain in tcp_ipv4.ehash:
        for e in chain or ():
            if e.inet_num == port + 1 and e.inet_dport == port:
                return e.sk_state
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
    assert imp[0] and imp[1], "the link impaired nothing: %r" % imp
    print("seeds %d..%d: dropped %d duplicated %d of %d frames" % (first, first + n - 1, imp[0], imp[1], imp[2]))


# 20 seeds on the unix ports, 5 on the board (its time is scarce)
def test_bulk_impaired_link_seeds_0_to_9():
    seeds(0, 10 if BIG else 3)


def test_bulk_impaired_link_seeds_10_to_19():
    seeds(10, 10 if BIG else 2)
