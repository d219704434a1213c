# Checksum throughput on the target: C module vs viper twin vs a plain bytecode
# loop, same process, same buffer. Prints BENCH lines (see tests/bench/run.py).
import json
from ksock.compat import kskb
from ksock.kernel.time import clock
from ksock.net.core import skbuff_py

buf = bytes(range(256)) * 6  # 1536 bytes, an Ethernet frame's worth


def bytecode_sum(b):
    s = 0
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def rate(f, min_ms=300):
    n = 1
    while True:
        t0 = clock.now_us()
        for _ in range(n):
            f(buf)
        dt = clock.diff(clock.now_us(), t0)
        if dt >= min_ms * 1000:
            return len(buf) * n / dt  # bytes/us == MB/s
        n *= 2


res = {"bytecode": rate(bytecode_sum, 200), "python-twin": rate(skbuff_py.csum_partial)}
if kskb is not None:
    res["c"] = rate(kskb.csum_partial)
for k, v in res.items():
    print("BENCH " + json.dumps({"name": "csum_1536B_" + k, "value": v, "unit": "MB/s"}))
if "c" in res:
    print("BENCH " + json.dumps({"name": "csum_c_over_bytecode", "value": res["c"] / res["bytecode"], "unit": "x"}))
    print("BENCH " + json.dumps({"name": "csum_c_over_python_twin", "value": res["c"] / res["python-twin"], "unit": "x"}))
