# sk_buff hot path on the target: C module vs x64 native module vs Python twin
# (viper csum/copies) vs a bytecode checksum loop, same process, same buffers.
# On the unix port the native module is loaded beside the C module as `kskb_nat`
# (a copy of build/natmod/x64/kskb.mpy in /tmp), so all three share one process.
import json
import sys
from ksock.compat import kskb
from ksock.kernel.time import clock
from ksock.net.core import skbuff_py

buf = bytes(range(256)) * 6  # 1536 bytes, an Ethernet frame's worth
N_COPY = 1460                # one TCP MSS


def bytecode_sum(b):
    s = 0
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def natmod_beside_cmodule():
    if kskb is None or kskb.IMPL != "cmodule" or sys.platform != "linux":
        return None
    try:
        import os
        os.mkdir("/tmp/ksock-bench")
    except OSError:
        pass
    try:
        with open("build/natmod/x64/kskb.mpy", "rb") as f:
            d = f.read()
        with open("/tmp/ksock-bench/kskb_nat.mpy", "wb") as f:
            f.write(d)
        sys.path.insert(0, "/tmp/ksock-bench")
        import kskb_nat
        return kskb_nat
    except (OSError, ImportError, ValueError):
        return None


def rate(f, arg, min_ms=250):
    """Calls of f(arg, n) per microsecond, doubling n until the run is long enough."""
    n = 16
    while True:
        t0 = clock.now_us()
        f(arg, n)
        dt = clock.diff(clock.now_us(), t0)
        if dt >= min_ms * 1000:
            return n / dt
        n *= 2


def b_csum(M, n):
    c = M.csum_partial
    for _ in range(n):
        c(buf)


def b_bytecode(M, n):
    for _ in range(n):
        bytecode_sum(buf)


def b_alloc(M, n):
    p = M._p
    for _ in range(n):
        p.free(p.alloc())


def b_pushpull(M, n):
    s, push, pull = M._s, M.skb_push, M.skb_pull
    for _ in range(n):
        push(s, 14)
        pull(s, 14)


def b_copy(M, n):
    s, cp, dst = M._s, M.skb_copy_bits, M._dst
    for _ in range(n):
        cp(s, 0, dst, 0, N_COPY)


def b_queue(M, n):
    q, s, enq, deq = M._q, M._s, M.skb_queue_tail, M.skb_dequeue
    for _ in range(n):
        enq(q, s)
        deq(q)


class Impl:
    # Per-implementation fixtures bound as attributes, so the loops do no set-up.
    def __init__(self, mod):
        for k in ("csum_partial", "skb_push", "skb_pull", "skb_copy_bits", "skb_queue_tail", "skb_dequeue"):
            setattr(self, k, getattr(mod, k))
        self._p = mod.Pool(2, 1600, 96)
        self._s = self._p.alloc()
        mod.skb_put_data(self._s, buf[:N_COPY])
        self._q = mod.Queue()
        self._dst = bytearray(N_COPY)


impls = [("python", skbuff_py)]
if kskb is not None:
    impls.append((kskb.IMPL, kskb))
nat = natmod_beside_cmodule()
if nat is not None:
    impls.append(("natmod", nat))

res = {}
out = []


def emit(name, value, unit):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


res["csum", "bytecode"] = rate(b_bytecode, None, 200) * len(buf)
emit("skb_csum_1536B_bytecode", res["csum", "bytecode"], "MB/s")
for label, mod in impls:
    M = Impl(mod)
    for key, f, scale, unit in (("csum", b_csum, len(buf), "MB/s"), ("alloc_free", b_alloc, 1e6, "ops/s"),
                                ("push_pull", b_pushpull, 1e6, "ops/s"), ("copy", b_copy, N_COPY, "MB/s"),
                                ("queue", b_queue, 1e6, "ops/s")):
        res[key, label] = rate(f, M) * scale
        emit("skb_%s_%s" % (key, label), res[key, label], unit)
for key in ("csum", "alloc_free", "push_pull", "copy", "queue"):
    for label in ("cmodule", "natmod"):
        if (key, label) in res:
            emit("skb_%s_%s_over_python" % (key, label), res[key, label] / res[key, "python"], "x")
    if ("csum", "cmodule") in res and ("csum", "natmod") in res:
        emit("skb_%s_natmod_over_cmodule" % key, res[key, "natmod"] / res[key, "cmodule"], "x")
for label in ("cmodule", "natmod", "python"):
    if ("csum", label) in res:
        emit("skb_csum_%s_over_bytecode" % label, res["csum", label] / res["csum", "bytecode"], "x")
