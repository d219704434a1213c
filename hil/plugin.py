"""pytest plugin: run ksock's tests on a chosen target.

    pytest --target=unix|unix-nocmod|unix-natmod|unix-jonnor|unix-w5500|qemu|rp2js|rp2js-natmod|serial:/dev/ttyUSB0|labgrid

Device tests (files under a `device/` directory) are MicroPython code: the file
is sent to the target once, each top-level `test_*` function runs there and
becomes its own pytest item; a failure shows the device's traceback. Host tests
are ordinary pytest code; they may use the `target`, `link` and `netns_target`
fixtures. With CI=true, a test skipped because root, namespaces or QEMU are
missing fails instead (hil.require_env).
"""
import ast
import os
import re

import pytest

from hil import netns as _netns
from hil.rawrepl import TargetError
from hil.targets import make_target

ENV_SKIP = "hil-env: "  # prefix of skips that CI must not accept
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_RESULT = re.compile(r"^\x1e@@(BEGIN|PASS|FAIL|SKIP|END) (\S+)(?: (.*))?$")


def require_env(ok, reason):
    """Skip (locally) or fail (CI) when the environment lacks root/netns/QEMU."""
    if not ok:
        if CI:
            pytest.fail("CI must run this test: " + reason, pytrace=False)
        pytest.skip(ENV_SKIP + reason)


def pytest_addhooks(pluginmanager):
    # Runs as `-p hil.plugin` registers, before pytest loads entry-point plugins:
    # labgrid's would add a `target` fixture shadowing ours and the same --lg-*
    # options; hil/lab.py builds labgrid's Environment itself instead.
    pluginmanager.set_blocked("labgrid")


def pytest_addoption(parser):
    g = parser.getgroup("hil", "ksock targets")
    g.addoption("--target", default="unix", help="unix | unix-nocmod | unix-natmod | unix-jonnor | unix-w5500 | qemu | rp2js | rp2js-natmod | serial:PATH_OR_URL | "
                "labgrid[:ROLE] (the board of the acquired place in --lg-env, hil/lab.py)")
    g.addoption("--board", default=None, help="board description name (boards/) of a serial target")
    g.addoption("--peer-iface", default=None, help="serial target: the host NIC cabled to the board (rig)")
    g.addoption("--peer-netns", default=None, help="namespace holding --peer-iface (default: the host's)")
    g.addoption("--flash", action="store_true", help="serial target: flash --board once per session "
                "(skipped when build/hil-flash-cache.json says the image is on it)")
    g.addoption("--hil-log", default=None, help="append the raw serial transcript to this file")
    g.addoption("--hil-pcap", default=None, help="write each network test's frames to DIR/<test>.pcap")
    # labgrid's own option names; its pytest plugin stays off (hil/lab.py says why)
    g.addoption("--lg-env", default=None, help="--target=labgrid: labgrid environment file (or LG_ENV)")
    g.addoption("--lg-coordinator", default=None, help="--target=labgrid: coordinator HOST:PORT (or LG_COORDINATOR)")


def pytest_configure(config):
    config.addinivalue_line("markers", "targets(*names): run only on these targets")
    config.addinivalue_line("markers", "host: a host-only test (runs once, on the unix pass)")


def target_spec(config):
    """The target as the suite sees it: a labgrid place is the serial target its
    exporter serves (serial:rfc2217://host:port...)."""
    spec = config.getoption("--target")
    if spec == "labgrid" or spec.startswith("labgrid:"):
        return "serial:" + lab_info(config)["url"]
    return spec


def lab_info(config):
    """--target=labgrid: the place's serial URL, board and peer NIC (hil/lab.py), once."""
    info = getattr(config, "_hil_lab", None)
    if info is None:
        from hil import lab
        spec = config.getoption("--target")
        try:
            info = lab.resolve(config, role=spec.split(":", 1)[1] if ":" in spec else "main")
        except lab.LabError as e:
            raise pytest.UsageError(str(e))
        config._hil_lab = info
    return info


def board_name(config):
    """--board, else the labgrid place's `board` tag."""
    b = config.getoption("--board")
    if not b and config.getoption("--target").startswith("labgrid"):
        b = lab_info(config)["board"]
    return b


def _log_fn(config):
    path = config.getoption("--hil-log")
    if not path:
        return None
    f = open(path, "ab")

    def log(b):
        f.write(b)
        f.flush()
    return log


# ---- device tests ----------------------------------------------------------------

def _is_device_file(path):
    return "device" in path.parts and path.name.startswith("test_") and path.suffix == ".py"


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if _is_device_file(module_path):
        return DeviceModule.from_parent(parent, path=module_path)
    return None


_RUNNER = """
def __hil_run(names):
    import sys
    for n in names:
        print('\\x1e@@BEGIN', n)
        try:
            globals()[n]()
        except __hil_Skip as e:
            print('\\x1e@@SKIP', n, e.args[0] if e.args else '')
            continue
        except BaseException as e:
            print('\\x1e@@FAIL', n)
            sys.print_exception(e, sys.stdout) if hasattr(sys, 'print_exception') else None
            continue
        print('\\x1e@@PASS', n)
"""

_PRELUDE = """
class __hil_Skip(Exception):
    pass
def skip(reason=''):
    raise __hil_Skip(reason)
TARGET = %r
"""


_COMPOUND = ("def", "class", "if", "for", "while", "try", "with", "async")


def _mpy_cross(src, name):
    """Source -> .mpy bytes with build/mpy-cross (bytecode only: any arch)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        py, out = os.path.join(d, name), os.path.join(d, "out.mpy")
        with open(py, "w") as f:
            f.write(src)
        subprocess.run([_MPY_CROSS, "-s", name, "-o", out, py], check=True,
                       capture_output=True, cwd=d)
        with open(out, "rb") as f:
            return f.read()


_MPY_CROSS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "build", "mpy-cross", "mpy-cross")


class DeviceModule(pytest.File):
    """A device test file: one run on the target, one item per test function."""

    def collect(self):
        src = self.path.read_text()
        tree = ast.parse(src, filename=str(self.path))
        self.source = src
        self.timeout = 120
        m = re.search(r"^# hil: timeout=(\d+)", src, re.M)
        if m:
            self.timeout = int(m.group(1))
        self.names = [n.name for n in tree.body
                      if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        self.results = None
        for name in self.names:
            yield DeviceItem.from_parent(self, name=name)

    def mpy(self, target_name):
        """[(module, .mpy bytes)]: the prelude as module __hil, and this file with
        its first line taking the prelude's names, so that line
        numbers in device tracebacks are the file's."""
        first, _, rest = self.source.partition("\n")
        imp = "from __hil import TARGET, skip, __hil_Skip"
        head = first.strip()
        if not head or head.startswith("#"):
            src = imp + "  " + first + "\n" + rest
        elif head.split()[0].rstrip(":") in _COMPOUND or head.startswith("@"):
            src = imp + "\n" + self.source  # line numbers one off: rare, line 1 is a comment in tests/device
        else:
            src = imp + "; " + first + "\n" + rest
        return [("__hil", _mpy_cross(_PRELUDE % target_name, "__hil.py")),
                ("__hil_t", _mpy_cross(src, self.path.name))]

    def run_all(self, target):
        if self.results is not None:
            return self.results
        self.results = {}
        outputs = {}
        try:
            target.soft_reset()
            target.exec(_PRELUDE % target.name)
            if target.mpy_tests:
                # a board brings its stack up at boot (ksock.board.load), before any
                # program: its pools come from an unfragmented heap
                target.exec("from ksock import stack\nstack.init()\nimport gc\ngc.collect()\n")
                target.load_mpy(self.mpy(target.name))
            else:
                target.exec(self.source, timeout=self.timeout)
            out, err = target.exec_capture(_RUNNER + "__hil_run(%r)\n" % self.names, timeout=self.timeout)
        except Exception as e:  # the whole file failed to load or the target died
            for n in self.names:
                self.results[n] = ("FAIL", "device file %s did not run:\n%s" % (
                    self.path.name, getattr(e, "traceback", None) or e))
            try:
                target.soft_reset()
            except Exception:
                pass
            return self.results
        cur = None
        for line in out.split("\n"):  # not splitlines(): it splits at \x1e too
            m = _RESULT.match(line)
            if m:
                kind, name, extra = m.groups()
                if kind == "BEGIN":
                    cur = name
                    outputs[cur] = []
                elif kind in ("PASS", "FAIL", "SKIP"):
                    self.results[name] = (kind, extra or "")
                    if kind != "FAIL":
                        cur = None
                continue
            if cur is not None:
                outputs[cur].append(line)
        for n in self.names:
            kind, extra = self.results.get(n, ("FAIL", "no result from the device (crashed?)"))
            if kind == "FAIL":
                extra = "\n".join(outputs.get(n, [])) or extra
                if err:
                    extra += "\n" + err
            self.results[n] = (kind, extra)
        return self.results


class DeviceFailure(Exception):
    pass


class DeviceItem(pytest.Item):
    def runtest(self):
        target = self.session._hil_target()
        kind, text = self.parent.run_all(target)[self.name]
        if kind == "SKIP":
            pytest.skip(text)
        if kind == "FAIL":
            raise DeviceFailure(text)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, DeviceFailure):
            return "device traceback (%s):\n%s" % (target_spec(self.config), excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "%s::%s [%s]" % (self.path.name, self.name, target_spec(self.config))


# ---- session target and selection --------------------------------------------------

def pytest_sessionstart(session):
    state = {"t": None}

    def get():
        if state["t"] is None:
            spec = target_spec(session.config)
            if spec == "qemu":
                import shutil
                require_env(shutil.which("qemu-system-arm"), "qemu-system-arm not installed")
            board = board_name(session.config)
            if spec.startswith("serial:") and board and session.config.getoption("--flash"):
                from hil.flashcache import ensure_flashed
                ensure_flashed(board, spec.split(":", 1)[1])
            t = make_target(spec, log=_log_fn(session.config))
            if spec.startswith("serial:") and board:
                t.board, t.nic_driver = board, "board"  # netstack.ATTACH["board"]
            state["t"] = t.start()
        return state["t"]

    session._hil_state = state
    session._hil_target = get


def pytest_sessionfinish(session):
    st = getattr(session, "_hil_state", None)
    if st and st["t"]:
        st["t"].stop()


# Targets that only swap the skb implementation (kskb.mpy, another interpreter):
# they run the device tests alone; host tests stay with unix/unix-nocmod/qemu.
DEVICE_ONLY_TARGETS = ("unix-natmod", "unix-jonnor", "rp2js-natmod")


def pytest_collection_modifyitems(config, items):
    """Host-only tests run once (in the unix pass); `targets` marks restrict items."""
    spec = target_spec(config)
    keep, drop = [], []
    for it in items:
        m = it.get_closest_marker("targets")
        if m and spec not in m.args and not any(spec.startswith(a + ":") for a in m.args):
            drop.append(it)
        elif spec in DEVICE_ONLY_TARGETS and not isinstance(it, DeviceItem):
            drop.append(it)
        elif (not isinstance(it, DeviceItem) and spec != "unix"
              and not ({"target", "netns_target", "fresh_target", "target_name"} & set(getattr(it, "fixturenames", ())))):
            drop.append(it)
        else:
            keep.append(it)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if CI and rep.skipped and isinstance(rep.longrepr, tuple) and ENV_SKIP in str(rep.longrepr[2]):
        rep.outcome = "failed"
        rep.longrepr = "skipped in CI, which must run it: %s" % rep.longrepr[2]


# ---- fixtures -----------------------------------------------------------------------

@pytest.fixture
def target(request):
    """The session's target, soft-reset to a clean interpreter."""
    t = request.session._hil_target()
    t.soft_reset()
    return t


@pytest.fixture
def fresh_target(request):
    """A target of its own, started for this test and stopped after it."""
    t = make_target(target_spec(request.config), log=_log_fn(request.config))
    t.start()
    yield t
    t.stop()


@pytest.fixture
def target_name(request):
    """The --target spec, for host tests that start targets themselves."""
    return target_spec(request.config)


@pytest.fixture(scope="session")
def netns_ok():
    ok, reason = _netns.available()
    if ok:
        _netns.reap_stale()
    return ok, reason


@pytest.fixture
def link(netns_ok):
    """A veth (or, for QEMU, tap) link between a target namespace and a Linux peer."""
    require_env(*netns_ok)
    lk = _netns.Link(tap=False)
    yield lk
    lk.delete()


@pytest.fixture
def netns_target(request, netns_ok):
    """(target, link): the target started inside its own namespace, Linux as the peer."""
    require_env(*netns_ok)
    spec = target_spec(request.config)
    if spec.startswith("serial:"):
        yield from _rig_target(request)
        return
    lk = _netns.Link(tap=(spec == "qemu"))
    kw = {"netns": lk.target_ns, "log": _log_fn(request.config)}
    if spec == "qemu":
        kw["nic"] = "tap,model=lan9118,ifname=%s,script=no,downscript=no,mac=%s" % (lk.peer_if, lk.tgt_mac)
    if spec.startswith("rp2js"):  # the W5500 model's wire is the veth; the board's MAC its own
        kw["ifname"], kw["mac"] = lk.tgt_if, lk.tgt_mac
    t = make_target(spec, **kw)
    cap = _pcap(request, lk)
    try:
        t.start()
        yield t, lk
    finally:
        t.stop()
        if cap:
            cap.stop()
        lk.delete()


def _pcap(request, lk):
    """--hil-pcap=DIR: the peer side's frames of this test (host_tools/pcap.py)."""
    d = request.config.getoption("--hil-pcap")
    if not d:
        return None
    from host_tools.pcap import Capture
    os.makedirs(d, exist_ok=True)
    name = re.sub(r"[^\w.-]", "_", request.node.name)
    return Capture(lk.peer_if, os.path.join(d, name + ".pcap"), netns=lk.peer.name).start()


def _rig_target(request):
    """A board on a rig: its Ethernet is cabled to --peer-iface, which moves into a
    peer namespace for the test (hil/netns.RigLink); the session's serial target
    is reused (one open serial line), soft-reset."""
    iface = request.config.getoption("--peer-iface")
    board = board_name(request.config)
    if not iface and request.config.getoption("--target").startswith("labgrid"):
        iface = lab_info(request.config)["iface"]
        if not iface:
            pytest.skip(lab_info(request.config)["why_no_iface"])
    if not iface or not board:
        pytest.skip("a serial board's network needs --board=NAME and --peer-iface=IFACE (docs/rig.md)")
    from hil.targets import ROOT
    import sys
    sys.path.insert(0, ROOT)
    net = __import__("boards." + board, None, None, ("BOARD",)).BOARD["net"]
    subnet = net["ip"].split("/")[0].rsplit(".", 1)[0]
    lk = _netns.RigLink(iface, subnet=subnet, prefix=int(net["ip"].split("/")[1]),
                        from_ns=request.config.getoption("--peer-netns"))
    cap = _pcap(request, lk)
    try:
        t = request.session._hil_target()
        t.soft_reset()
        yield t, lk
    finally:
        if cap:
            cap.stop()
        lk.delete()


def pytest_report_header(config):
    spec = target_spec(config)
    if config.getoption("--target").startswith("labgrid"):
        info = lab_info(config)
        spec += " (labgrid place %s, board %s, peer NIC %s)" % (
            info["place"], board_name(config), info["iface"] or "none here")
    return "ksock target: %s%s" % (spec, " (CI: env skips fail)" if CI else "")


__all__ = ["require_env", "TargetError"]
