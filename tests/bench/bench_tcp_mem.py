# Heap per idle established TCP connection, without a network: N connections
# over lo, both ends in ksock (2N established socks), after the handshake and
# gc.collect(); the delta of gc.mem_alloc() over 2N. Then the pool and the
# heap after they are all closed.
import gc
import json
import sys
from ksock import stack
from ksock import sys as K
from ksock.net.core import sk_mem
from ksock.net import socket as S

BOARD = sys.platform != "linux"
N = 8 if BOARD else 50  # pairs: both ends on this heap
stack.init()


def bench(name, value, unit):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


K.setrlimit_nofile(2 * N + 16)
S.sockfs_set_max(2 * N + 16)  # a board's default inode pool is smaller
ls = K.socket(2, 1 | K.SOCK_NONBLOCK, 0)
K.bind(ls, ("127.0.0.1", 9300))
K.listen(ls, N)
fds = [0] * (2 * N)


def open_pair(i):
    c = K.socket(2, 1 | K.SOCK_NONBLOCK, 0)
    try:
        K.connect(c, ("127.0.0.1", 9300))
    except OSError as e:
        if e.args[0] != 115:  # EINPROGRESS
            raise
    s = -1
    for _ in range(100):
        stack.serve(1)
        try:
            s = K.accept(ls)[0]
            break
        except OSError:
            pass
    if s < 0:
        raise OSError("pair %d not accepted" % i)
    fds[2 * i] = c
    fds[2 * i + 1] = s


open_pair(0)  # warm: port tables, the ehash chains
K.close(fds[0])
K.close(fds[1])
stack.serve(50)
gc.collect()
h0 = gc.mem_alloc()
for i in range(N):
    open_pair(i)
stack.serve(50)
gc.collect()
h1 = gc.mem_alloc()
bench("tcp heap per idle established connection (lo, %d pairs)" % N, (h1 - h0) // (2 * N), "bytes")
bench("tcp buffer chunks held by idle connections", sk_mem.tcp_memory.allocated, "chunks")
for fd in fds:
    K.close(fd)
stack.serve(300)
