# Socket-layer cost on the target: heap bytes per idle socket (fd slot + struct
# file + struct socket + struct sock) from gc.mem_alloc() over 100 sockets,
# unbound and bound+listening, and socket()+close() per second; and what a
# non-blocking recv that answers EAGAIN costs (ksock.sys and the drop-in
# socket), softirq pass included (only lo here: a NIC's poll adds to it).
import gc
import json
from ksock import sys as K
from ksock.net import socket as S
from ksock.kernel.time import clock

N = 100
K.close_range(3)
K.setrlimit_nofile(N + 8)
S.sockfs_set_max(N + 8)


def per_socket(setup):
    gc.collect()
    m0 = gc.mem_alloc()
    fds = []
    for i in range(N):
        fd = K.socket(2, 1)
        setup(fd, i)
        fds.append(fd)
    gc.collect()
    m1 = gc.mem_alloc()
    for fd in fds:
        K.close(fd)
    return (m1 - m0 - 16 * ((N + 3) // 4)) / N  # minus the list holding the fds


def idle(fd, i):
    pass


def listening(fd, i):
    K.bind(fd, ("127.0.0.1", 20000 + i))
    K.listen(fd, 4)


cold = per_socket(idle)  # first 100: the inode pool and fd array grow
warm = per_socket(idle)  # reused inodes: what a socket costs on its own
lst = per_socket(listening)


def rate(min_ms=500):
    n = 64
    while True:
        t0 = clock.now_us()
        for _ in range(n):
            K.close(K.socket(2, 1))
        dt = clock.diff(clock.now_us(), t0)
        if dt >= min_ms * 1000:
            return n * 1e6 / dt
        n *= 2


def eagain_rate(call, min_ms=500):
    """Calls/s of `call`, which raises OSError(EAGAIN) each time."""
    n = 256
    while True:
        t0 = clock.now_us()
        for _ in range(n):
            try:
                call()
            except OSError:
                pass
        dt = clock.diff(clock.now_us(), t0)
        if dt >= min_ms * 1000:
            return n * 1e6 / dt
        n *= 2


def nonblocking_rates():
    import ksock.socket as dsock
    K.close_range(3)
    fd = K.socket(2, 2)
    K.bind(fd, ("127.0.0.1", 19999))
    buf = bytearray(64)
    r1 = eagain_rate(lambda: K.recvmsg_into(fd, [buf], 0x40))  # MSG_DONTWAIT
    s = dsock.socket(2, 2)
    s.bind(("127.0.0.1", 19998))
    s.setblocking(False)
    r2 = eagain_rate(lambda: s.recv_into(buf))
    s.close()
    K.close(fd)
    return r1, r2


nb_sys, nb_dropin = nonblocking_rates()

for name, v, unit in (("socket_heap_per_idle_socket_first", cold, "B"),
                      ("socket_heap_per_idle_socket_pooled", warm, "B"),
                      ("socket_heap_per_listening_socket", lst, "B"),
                      ("socket_create_close_rate", rate(), "ops/s"),
                      ("socket_nonblocking_recv_eagain_rate", nb_sys, "calls/s"),
                      ("dropin_nonblocking_recv_into_eagain_rate", nb_dropin, "calls/s")):
    print("BENCH " + json.dumps({"name": name, "value": v, "unit": unit}))
