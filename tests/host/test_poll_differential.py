"""Differential test of poll/select/epoll, pipes and AF_UNIX (issue 7): the case
table in poll_cases.py runs against the Linux kernel (libc through ctypes, in
a fresh network namespace with lo up, RLIMIT_NOFILE 64) and against ksock.sys on
the target (its in-stack loopback, simulated time); every step must give the
same revents, ready sets, epoll events, value or errno. select's time left is
compared in 100 ms buckets (Linux counts microseconds spent)."""
import ast
import os
import subprocess
import sys

from hil import netns as _netns
from hil.plugin import require_env

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import poll_cases  # noqa: E402
from test_socket_differential import compare  # noqa: E402

RLIMIT = 64
CHUNK = {"qemu": 4}

SETUP = """
from ksock import stack, sys as K
from ksock.kernel import time as _kt
from ksock.net import socket as _S
stack.init()
_kt.set_clock(_kt.SimClock(1000))
K.setrlimit_nofile(%d)
_S.sockfs_set_max(%d)
for _k in ('net.core.rmem_max', 'net.core.wmem_max', 'net.core.rmem_default', 'net.core.wmem_default'):
    K.sysctl(_k, 212992)  # Linux's buffer sizes (boards default to 2 KB)
BACKEND = 'ksock'
"""


# Before each case, simulated time runs on as real time does between cases on
# Linux: closed connections finish their FINs, FIN_WAIT2 / TIME_WAIT timers
# expire and orphans give their rings back (a board's heap needs them).
SETTLE = """
def _settled(steps):
    from ksock.kernel import softirq
    import gc
    softirq.run_for(130000)
    gc.collect()
    return run_case(steps)
"""


def run_oracle(cases):
    ns = _netns.NetNS("p")
    try:
        ns.run("ip", "link", "set", "lo", "up")
        code = ("import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (%d, 4096)); "
                "import runpy, sys; sys.path.insert(0, %r); sys.argv=['poll_oracle.py']; "
                "runpy.run_path(%r, run_name='__main__')") % (RLIMIT, HERE, os.path.join(HERE, "poll_oracle.py"))
        r = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c", code],
                           input=repr(cases), capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError("oracle failed: %s" % r.stderr)
        return ast.literal_eval(r.stdout.strip().splitlines()[-1])
    finally:
        ns.delete()


def run_ksock(target, cases, chunk):
    target.exec(SETUP % (RLIMIT, RLIMIT))
    target.exec(open(os.path.join(HERE, "poll_runner.py")).read())
    target.exec(SETTLE)
    out = []
    for i in range(0, len(cases), chunk):
        part = cases[i:i + chunk]
        out += ast.literal_eval(target.exec("print(repr([_settled(c[1]) for c in %r]))" % (part,),
                                            timeout=120).strip())
    return out


def test_poll_differential(target, target_name, netns_ok):
    require_env(*netns_ok)
    cases = poll_cases.all_cases()
    assert len(poll_cases.CASES) >= 60
    linux = run_oracle(cases)
    ksock = run_ksock(target, cases, CHUNK.get(target_name, 20))
    bad = compare(cases, linux, ksock)
    print("poll differential on %s: %d/%d cases agree" % (target_name, len(cases) - len(bad), len(cases)))
    assert not bad, "%d/%d cases differ:\n%s" % (len(bad), len(cases), "\n".join(bad))
