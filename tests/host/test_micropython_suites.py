"""MicroPython's own socket/select suites against ksock's drop-in modules.

The Debian tarball's tests/run-tests.py (extmod/socket_*, extmod/select_*,
net_hosted/*) and tests/run-multitests.py (multi_net/*) run twice: once with
the unix port's built-in socket (Linux), once with a `socket.py` (and
`select.py`) on the module path that shadows the built-in and brings ksock up
on a veth (KSOCK_* environment, ksock.run.env_up). Every test the built-in
passes must pass on ksock.

How `import socket` resolves in MicroPython 1.25 (py/builtinimport.c,
process_import_at_level): sys.modules first; then the non-extensible built-ins;
then the filesystem along sys.path (MICROPYPATH, `.frozen` included); then the
extensible built-ins. The unix port registers socket and select with
MP_REGISTER_EXTENSIBLE_MODULE, so a socket.py on the path wins, and
`import usocket`/`uselect` still name the built-in (objmodule.c:
mp_module_get_builtin's u-prefix rule), which ksock's AF_PACKET driver and
softirq poll get while the stack comes up (ksock.run._builtins).

Multi tests pair ksock with ksock (both on one veth pair, each end owned by a
ksock stack) and ksock with the built-in socket on the Linux peer; the baseline
pairs two built-in instances on the Linux peer. `multitest.get_network_ip()`
asks `network.LAN().ifconfig()`: a network.py next to the drop-ins answers with
the instance's address. CPython (the runners' truth for tests without .exp) runs
in the Linux peer's namespace, which has no default route; ksock is brought up
without one too, so unreachable addresses fail the same way on both.
"""
import glob
import os
import re
import stat
import subprocess
import sys

import pytest

from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod")

MPTESTS = os.path.join(BUILD, "micropython", "tests")

# Not run, and why (they fail the same way with the built-in socket here):
NOT_RUN = {
    "net_hosted/connect_nonblock_xfer.py": "needs unittest (micropython-lib is not in the Debian tarball)",
    "extmod/ssl_noleak.py": "needs unittest (micropython-lib is not in the Debian tarball)",
    "net_hosted/ssl_getpeercert.py": "connects to micropython.org:443 (no Internet here)",
    "net_hosted/ssl_verify_callback.py": "connects to micropython.org:443 (no Internet here)",
}
SINGLE_GLOBS = ("extmod/socket_*.py", "extmod/select_*.py", "extmod/ssl_*.py", "extmod/tls_*.py", "net_hosted/*.py")

# The drop-in select (ksock/select.py, issue 7) shadowing the built-in as well:
# SELECT_DROPIN_ENABLED is its switch. Off for now: with it, select_poll_basic
# (poll on a closed socket must give POLLNVAL, as poll(2); the epoll-based
# drop-in drops the fd) and select_poll_custom (order and number of ioctl calls
# on a custom pollable) differ from the built-in. The drop-in socket alone runs
# every suite with the built-in select.poll driving it through MP_STREAM_POLL.
SELECT_DROPIN_ENABLED = False
CONFIGS = ["socket"] + (["socket+select"] if SELECT_DROPIN_ENABLED else [])

MULTI_UDP = ["multi_net/udp_data.py"]
# The TCP multi tests. TCP_MULTI_ENABLED is the switch for the lead: True runs
# them in every pair like MULTI_UDP (each one the built-in passes must pass).
TCP_MULTI_ENABLED = True
MULTI_TCP = ["multi_net/tcp_data.py", "multi_net/tcp_accept_recv.py",
             "multi_net/asyncio_tcp_server_client.py", "multi_net/asyncio_tcp_close_write.py",
             "multi_net/asyncio_tcp_readall.py", "multi_net/asyncio_tcp_readexactly.py",
             "multi_net/asyncio_tcp_readinto.py"]
# The RST cases (a client's SO_LINGER 0 close: the ksock server's recv raises
# ECONNRESET once, then poll drops POLLERR, as Linux); TCP_RST_ENABLED switches them.
TCP_RST_ENABLED = True
MULTI_TCP_RST = ["multi_net/tcp_client_rst.py", "multi_net/asyncio_tcp_client_rst.py"]

DROPIN_SOCKET = """# ksock's drop-in for MicroPython's suites: shadows the extensible built-in.
import ksock.run
ksock.run.env_up()
from ksock.socket import *  # noqa
"""
DROPIN_SELECT = """import ksock.run
ksock.run.env_up()
from ksock.select import *  # noqa
"""
NETWORK = """# multitest.get_network_ip() -> network.LAN().ifconfig()[0]
import os
class LAN:
    def ifconfig(self):
        return (os.getenv('KSOCK_NET_IP'), '255.255.255.0', '0.0.0.0', '0.0.0.0')
"""


def single_tests():
    out = []
    for g in SINGLE_GLOBS:
        out += sorted(os.path.relpath(p, MPTESTS) for p in glob.glob(os.path.join(MPTESTS, g)))
    return [t for t in out if t not in NOT_RUN]


# TLS (MicroPython's ssl/tls on mbedtls, docs/tls.md) over TCP: the test
# certificates (*.der) sit beside the tests, which run-multitests runs in that dir.
TLS_MULTI_ENABLED = True
MULTI_TLS = sorted(os.path.relpath(p, MPTESTS) for g in ("multi_net/ssl*.py", "multi_net/tls*.py",
                                                         "multi_net/asyncio_tls*.py")
                   for p in glob.glob(os.path.join(MPTESTS, g)))


def multi_tests():
    return (MULTI_UDP + (MULTI_TCP if TCP_MULTI_ENABLED else [])
            + (MULTI_TCP_RST if TCP_MULTI_ENABLED and TCP_RST_ENABLED else [])
            + (MULTI_TLS if TCP_MULTI_ENABLED and TLS_MULTI_ENABLED else []))


def _wrapper(path, ns, env):
    """An `exec:` instance: this interpreter in namespace `ns` with `env`."""
    binary = env.pop("BINARY")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec ip netns exec %s env %s %s \"$@\"\n" % (
            ns, " ".join("%s=%s" % kv for kv in sorted(env.items())), binary))
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


class Rig:
    """Namespaces: a Link (target ns: veth0 for ksock; peer ns: Linux at .1) and
    a second target ns holding both ends of one veth pair (ksock <-> ksock)."""

    def __init__(self, tmp, variant):
        self.tmp = tmp
        self.binary = os.path.join(BUILD, variant, "micropython")
        self.lk = netns.Link()
        self.kk = netns.NetNS("t")
        try:
            self.kk.run("ip", "link", "add", "kka", "type", "veth", "peer", "name", "kkb")
            for i, ifn in enumerate(("kka", "kkb")):
                self.kk.run("ip", "link", "set", ifn, "address", "02:00:00:00:5%d:01" % i)
                self.kk.run("ip", "link", "set", ifn, "up")
        except Exception:
            self.delete()
            raise
        self.dropins = {}
        for cfg in ("socket", "socket+select"):
            d = self.dropins[cfg] = os.path.join(tmp, "dropin-" + cfg.replace("+", "-"))
            os.makedirs(d, exist_ok=True)
            files = {"socket.py": DROPIN_SOCKET, "network.py": NETWORK}
            if cfg == "socket+select":
                files["select.py"] = DROPIN_SELECT
            for n, src in files.items():
                with open(os.path.join(d, n), "w") as f:
                    f.write(src)
        self.linuxdir = os.path.join(tmp, "linux")
        os.makedirs(self.linuxdir, exist_ok=True)
        with open(os.path.join(self.linuxdir, "network.py"), "w") as f:
            f.write(NETWORK)
        self.path = os.environ.get("MICROPYPATH", ".frozen")
        self.kk_ip = "10.254.%d" % (os.getpid() % 250)

    def ksock_env(self, iface, ip, extra_path="", cfg="socket"):
        return {"BINARY": self.binary, "KSOCK_IFACE": iface, "KSOCK_ADDR": ip + "/24", "KSOCK_NET_IP": ip,
                "MICROPYPATH": self.dropins[cfg] + ":" + self.path + extra_path}

    def builtin_env(self, ip, extra_path=""):
        return {"BINARY": self.binary, "KSOCK_NET_IP": ip, "MICROPYPATH": self.linuxdir + ":.frozen" + extra_path}

    def delete(self):
        self.lk.delete()
        self.kk.delete()


@pytest.fixture(scope="module")
def rig(netns_ok, tmp_path_factory, request):
    require_env(*netns_ok)
    r = Rig(str(tmp_path_factory.mktemp("mpsuites")), request.config.getoption("--target"))
    yield r
    r.delete()


_LINE = re.compile(r"^(pass|FAIL|skip)\s+(\S+)")


def _results(text):
    return {m.group(2): m.group(1).lower() for m in map(_LINE.match, text.splitlines()) if m}


def run_single(rig, cfg):
    """run-tests.py over the single-instance suites with `cfg`: "builtin", or
    ksock's drop-ins ("socket", "socket+select")."""
    extmod = os.path.join(BUILD, "micropython", "extmod")
    if cfg != "builtin":
        env = rig.ksock_env(rig.lk.tgt_if, rig.lk.tgt_ip, ":" + extmod, cfg)
        ns = rig.lk.tgt.name
    else:
        env = rig.builtin_env(rig.lk.peer_ip, ":" + extmod)
        ns = rig.lk.peer.name
    tag = cfg.replace("+", "-")
    w = _wrapper(os.path.join(rig.tmp, "mp-" + tag), ns, env)
    res = os.path.join(rig.tmp, "res-" + tag)
    # -j 1: parallel runs interleave their result lines ("pass pass  a.py" / " b.py")
    cmd = ["ip", "netns", "exec", rig.lk.peer.name, sys.executable, "run-tests.py", "--keep-path",
           "-j", "1", "-r", res] + single_tests()
    r = subprocess.run(cmd, cwd=MPTESTS, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, MICROPY_MICROPYTHON=w, MICROPY_CPYTHON3=sys.executable))
    return _results(r.stdout), r.stdout + r.stderr, res


def run_multi(rig, pair, tests):
    """run-multitests.py over `tests` with the instance pair `pair`: {test: result}, output."""
    if pair == "builtin-builtin":
        a = _wrapper(os.path.join(rig.tmp, "i0"), rig.lk.peer.name, rig.builtin_env(rig.lk.peer_ip))
        b = _wrapper(os.path.join(rig.tmp, "i1"), rig.lk.peer.name, rig.builtin_env(rig.lk.peer_ip))
    elif pair == "ksock-ksock":
        a = _wrapper(os.path.join(rig.tmp, "i0"), rig.kk.name, rig.ksock_env("kka", rig.kk_ip + ".2"))
        b = _wrapper(os.path.join(rig.tmp, "i1"), rig.kk.name, rig.ksock_env("kkb", rig.kk_ip + ".3"))
    elif pair == "ksock-linux":
        a = _wrapper(os.path.join(rig.tmp, "i0"), rig.lk.tgt.name, rig.ksock_env(rig.lk.tgt_if, rig.lk.tgt_ip))
        b = _wrapper(os.path.join(rig.tmp, "i1"), rig.lk.peer.name, rig.builtin_env(rig.lk.peer_ip))
    else:  # linux-ksock: the other way round (instance0 is the server in these tests)
        a = _wrapper(os.path.join(rig.tmp, "i0"), rig.lk.peer.name, rig.builtin_env(rig.lk.peer_ip))
        b = _wrapper(os.path.join(rig.tmp, "i1"), rig.lk.tgt.name, rig.ksock_env(rig.lk.tgt_if, rig.lk.tgt_ip))
    cmd = [sys.executable, "run-multitests.py", "-i", "exec:" + a, "-i", "exec:" + b] + list(tests)
    r = subprocess.run(cmd, cwd=MPTESTS, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, MICROPY_CPYTHON3=sys.executable))
    out = r.stdout + r.stderr
    res = {}
    for t in tests:
        m = re.search(r"^%s on \S+: (pass|FAIL|skip)" % re.escape(t), out, re.M)
        res[t] = m.group(1).lower() if m else "error"
    return res, out


def _test_output(out, test):
    """The part of a run-multitests transcript about one test."""
    i = out.find(test + " on ")
    j = out.rfind("\n", 0, i)
    return out[max(j, 0):][:6000] if i >= 0 else out[-4000:]


_single = {}  # per session: one target per pytest run (target_name keeps these on every pass)


def _single_results(rig, cfg):
    for c in ("builtin", cfg):
        if c not in _single:
            _single[c] = run_single(rig, c)
    return _single


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("test", single_tests())
def test_run_tests_suite_on_ksock_passes_what_builtin_passes(rig, test, cfg, target_name):
    res = _single_results(rig, cfg)
    base, base_out, _ = res["builtin"]
    got, got_out, resdir = res[cfg]
    assert test in base, base_out[-3000:]
    if base[test] != "pass":
        pytest.skip("the built-in socket does not pass it here either: %s" % base[test])
    if got.get(test) != "pass":
        name = test.replace("/", "_")
        diff = ""
        for ext in (".exp", ".out"):
            p = os.path.join(resdir, name + ext)
            if os.path.exists(p):
                diff += "---- %s\n%s\n" % (ext, open(p).read()[-2000:])
        pytest.fail("%s with ksock: %s\n%s" % (test, got.get(test), diff or got_out[-3000:]))


_multi = {}  # pair -> ({test: result}, output), one run per pair


def _multi_results(rig, pair):
    if pair not in _multi:
        _multi[pair] = run_multi(rig, pair, multi_tests())
    return _multi[pair]


@pytest.mark.parametrize("pair", ["ksock-ksock", "ksock-linux", "linux-ksock"])
@pytest.mark.parametrize("test", multi_tests())
def test_run_multitests_on_ksock_pairs_pass_what_builtin_passes(rig, test, pair, target_name):
    base = _multi_results(rig, "builtin-builtin")[0][test]
    if base != "pass":
        pytest.skip("the built-in socket does not pass it here either: %s" % base)
    got, out = _multi_results(rig, pair)
    if got[test] != "pass" and test in RACY_LINES:
        assert _same_but(_test_output(out, test), RACY_LINES[test]), _test_output(out, test)
        return
    assert got[test] == "pass", _test_output(out, test)


# Lines whose presence depends on a race the test itself has, not on the stack:
# asyncio's Stream.write() tries the SSLSocket at once, and the handshake step
# in it fails verification there (no "drain") when the server's flight is
# already in -- as it is when ksock's non-blocking read runs its softirq pass
# before answering EAGAIN; else at drain(). Everything else must match.
RACY_LINES = {"multi_net/asyncio_tls_server_client_verify_error.py": "drain"}


def _same_but(transcript, line):
    """The ### TEST ### and ### TRUTH ### parts of a run-multitests FAIL agree once `line` is dropped."""
    def part(name):
        body = transcript.split("### %s ###\n" % name, 1)[1].split("\n### ", 1)[0]
        return [x for x in body.splitlines() if x != line]
    return "### TEST ###" in transcript and part("TEST") == part("TRUTH")
