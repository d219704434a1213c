# Cost of one poll() and one epoll_wait() with N idle sockets plus one ready
# (N = 1, 16, 64, 256; heap permitting), as ratios to N = 1. Idle: bound UDP
# sockets with nothing queued; ready: one UDP socket with a datagram queued,
# asked for POLLIN. poll is O(N) by definition; epoll_wait looks only at its
# ready list.
import gc
import json
from ksock import sys as K, stack
from ksock.net import socket as S
from ksock.kernel.time import clock

stack.init()
K.close_range(3)
NS = (1, 16, 64, 256)
K.setrlimit_nofile(NS[-1] + 16)
S.sockfs_set_max(NS[-1] + 16)


def timed(f, min_ms=300):
    n = 8
    while True:
        t0 = clock.now_us()
        for _ in range(n):
            f()
        dt = clock.diff(clock.now_us(), t0)
        if dt >= min_ms * 1000:
            return dt / n
        n *= 2


def measure(n):
    K.close_range(3)
    gc.collect()
    ready = K.socket(2, 2)
    K.bind(ready, ("127.0.0.1", 45000))
    idle = []
    for i in range(n):
        fd = K.socket(2, 2)
        K.bind(fd, ("127.0.0.1", 45001 + i))
        idle.append(fd)
    tx = K.socket(2, 2)
    K.sendto(tx, b"x", 0, ("127.0.0.1", 45000))
    fds = [(fd, K.POLLIN) for fd in idle] + [(ready, K.POLLIN)]
    assert K.poll(fds, 0) == [(ready, K.POLLIN)]
    tp = timed(lambda: K.poll(fds, 0))
    ep = K.epoll_create1(0)
    for fd in idle + [ready]:
        K.epoll_ctl(ep, K.EPOLL_CTL_ADD, fd, K.EPOLLIN)
    assert K.epoll_wait(ep, 8, 0) == [(ready, K.EPOLLIN)]
    te = timed(lambda: K.epoll_wait(ep, 8, 0))
    K.close_range(3)
    return tp, te


res = []
for n in NS:
    try:
        res.append((n, measure(n)))
    except (MemoryError, OSError) as e:
        K.close_range(3)
        print("# N=%d skipped: %r" % (n, e))
        break
base = res[0][1]
for n, (tp, te) in res:
    for name, v, unit in (("poll_us_N%d" % n, tp, "us"), ("epoll_wait_us_N%d" % n, te, "us"),
                          ("poll_ratio_N%d" % n, tp / base[0], "x N=1"),
                          ("epoll_wait_ratio_N%d" % n, te / base[1], "x N=1")):
        print("BENCH " + json.dumps({"name": name, "value": v, "unit": unit}))
