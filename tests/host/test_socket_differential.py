"""Differential test of the socket layer (gVisor style): the case table in
socket_cases.py runs against the Linux kernel (CPython + libc in a fresh
network namespace: lo + d0 10.77.0.2/24, a veth end) and against ksock.sys on the
target; every step must give the same value or errno.

The oracle runs as root in its namespace; cases that need an unprivileged
caller drop CAP_NET_BIND_SERVICE from the effective set (capset), and
RLIMIT_NOFILE is set with setrlimit, the same numbers on both sides."""
import ast
import os
import subprocess
import sys

import pytest

from hil import netns as _netns
from hil.plugin import require_env

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import socket_cases  # noqa: E402

RLIMIT = 64
# Configuration both sides share: copied from the oracle namespace into ksock.
SHARED_SYSCTLS = ("net.core.rmem_default", "net.core.wmem_default", "net.core.rmem_max", "net.core.wmem_max",
                  "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.core.somaxconn", "net.ipv4.ip_local_port_range",
                  "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ping_group_range",
                  "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
                  "net.ipv4.ip_default_ttl", "net.ipv4.ip_nonlocal_bind")
CHUNK = {"qemu": 6}


def errname(r):
    if isinstance(r, tuple) and len(r) == 2 and r[0] == "E":
        from ksock.uapi.errno import errorcode
        return errorcode(r[1])
    return r


def run_oracle(cases):
    """(results, sysctls) from the Linux kernel in a namespace of our own."""
    ns = _netns.NetNS("o")
    try:
        # no dummy driver on every kernel: a veth pair whose d1 end stays bare
        ns.run("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
        ns.run("ip", "link", "set", "d1", "up")
        for dev, addr, plen in socket_cases.IFACES:
            ns.run("ip", "addr", "add", "%s/%d" % (addr, plen), "dev", dev)
            ns.run("ip", "link", "set", dev, "up")
        code = ("import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
                "import runpy, sys; sys.argv=['socket_oracle.py']; "
                "runpy.run_path(%r, run_name='__main__')") % (RLIMIT, 4096, os.path.join(HERE, "socket_oracle.py"))
        r = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c", code],
                           input=repr(cases), capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError("oracle failed: %s" % r.stderr)
        res = ast.literal_eval(r.stdout.strip().splitlines()[-1])
        vals = {}
        for name in SHARED_SYSCTLS:
            out = ns.run("cat", "/proc/sys/" + name.replace(".", "/")).split()
            vals[name] = int(out[0]) if len(out) == 1 else tuple(int(x) for x in out)
        return res, vals
    finally:
        ns.delete()


def device_setup_code(vals):
    lines = ["from ksock import sys as K", "from ksock.net.ipv4 import devinet",
             "K.setrlimit_nofile(%d)" % RLIMIT]
    for dev, addr, plen in socket_cases.IFACES:
        lines.append("devinet.inet_ifa_add(%r, %r, %d)" % (dev, addr, plen))
    lines.append("K.sysctl('net.ipv4.ip_unprivileged_port_start', 0)")
    for k, v in vals.items():
        lines.append("K.sysctl(%r, %r)" % (k, v))
    lines.append("K.sysctl('net.ipv4.ip_unprivileged_port_start', %r)" % vals["net.ipv4.ip_unprivileged_port_start"])
    return "\n".join(lines) + "\n"


def run_ksock(target, cases, vals, chunk):
    target.exec(device_setup_code(vals))
    target.exec(open(os.path.join(HERE, "socket_runner.py")).read())
    out = []
    for i in range(0, len(cases), chunk):
        part = cases[i:i + chunk]
        out += ast.literal_eval(target.exec("print(repr(run_cases(%r)))\nimport gc; gc.collect()" % (part,),
                                            timeout=120).strip())
    return out


def compare(cases, a, b):
    bad = []
    for (name, steps), ra, rb in zip(cases, a, b):
        if ra != rb:
            lines = ["case %s:" % name]
            for i, st in enumerate(steps):
                x, y = (ra[i] if i < len(ra) else "-"), (rb[i] if i < len(rb) else "-")
                mark = "  " if x == y else "!!"
                lines.append("  %s %d %r\n       linux=%r ksock=%r" % (mark, i, st, errname(x), errname(y)))
            bad.append("\n".join(lines))
    return bad


def test_socket_differential(target, target_name, netns_ok):
    require_env(*netns_ok)
    cases = socket_cases.CASES
    assert len(cases) >= 100
    linux, vals = run_oracle(cases)
    ksock = run_ksock(target, cases, vals, CHUNK.get(target_name, 25))
    bad = compare(cases, linux, ksock)
    agree = len(cases) - len(bad)
    print("socket differential on %s: %d/%d cases agree" % (target_name, agree, len(cases)))
    assert not bad, "%d/%d cases differ:\n%s" % (len(bad), len(cases), "\n".join(bad))
