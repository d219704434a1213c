"""The harness itself: device failures are reported as failures, with the
device's traceback; device output and errors round-trip; namespaces clean up."""
import os
import subprocess
import sys
import textwrap

import pytest

from hil import netns
from hil.plugin import require_env
from hil.rawrepl import DeviceException

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAILING_DEVICE_TEST = textwrap.dedent('''
    def test_passes_on_device():
        assert 1 + 1 == 2

    def test_fails_on_purpose():
        x = [1, 2, 3]
        assert len(x) == 4, "deliberate device-side failure"

    def test_skips_on_device():
        skip("not here")
''')


def test_deliberately_failing_device_test_is_reported_as_failure(tmp_path, target_name):
    d = tmp_path / "device"
    d.mkdir()
    (d / "test_on_purpose.py").write_text(FAILING_DEVICE_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p hil.plugin\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "--target=" + target_name,
                        "-p", "no:cacheprovider", str(d)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "1 failed, 1 passed, 1 skipped" in out, out
    assert "FAILED device/test_on_purpose.py::test_fails_on_purpose" in out, out
    # the device's own traceback, not a host one
    assert "AssertionError: deliberate device-side failure" in out, out
    assert 'line 7, in test_fails_on_purpose' in out, out


def test_exec_returns_output_and_raises_device_exception(target):
    assert target.exec("print('hello', 6 * 7)").strip() == "hello 42"
    with pytest.raises(DeviceException) as ei:
        target.exec("def f():\n    raise ValueError('boom %d' % 3)\nf()")
    assert "ValueError: boom 3" in ei.value.traceback
    assert target.eval("{'a': (1, 2.5, None)}") == {"a": (1, 2.5, None)}


def test_soft_reset_clears_interpreter_state(target):
    target.exec("marker = 12345")
    assert target.eval("marker") == 12345
    target.soft_reset()
    with pytest.raises(DeviceException):
        target.exec("marker")


def test_put_then_read_back_on_target(target):
    path = "/ram/hil_put.txt" if not target.has_fs else "/tmp/hil_put_%d.txt" % os.getpid()
    data = bytes(range(256)) * 5
    target.put(path, data)
    assert target.eval("len(open(%r, 'rb').read())" % path) == len(data)
    assert target.eval("open(%r, 'rb').read()[250:260]" % path) == data[250:260]


def test_import_ksock_and_checksum_on_target(target):
    assert target.eval("__import__('ksock').__version__")
    impl = target.eval("__import__('ksock.net.core.skbuff').net.core.skbuff.IMPL")
    assert impl == ("python" if target.name == "unix-nocmod" else "cmodule")


def test_netns_link_is_torn_down_after_use(netns_ok):
    require_env(*netns_ok)
    lk = netns.Link()
    names = (lk.peer.name, lk.tgt.name)
    out = lk.peer.run("ip", "-o", "addr", "show", "dev", lk.peer_if)
    assert lk.peer_ip in out
    lk.delete()
    listed = netns.sh("ip", "netns", "list")
    assert not any(n in listed for n in names)


def test_target_runs_inside_its_namespace(netns_target):
    t, lk = netns_target
    if t.platform == "linux":
        # the unix port sees the veth end of its own namespace and nothing else
        out = t.exec("import os\nprint(open('/sys/class/net/%s/address').read())" % lk.tgt_if)
        assert out.strip() == lk.tgt_mac
    else:
        # QEMU's LAN9118 is present and the tap is up on the Linux side
        assert t.eval("__import__('machine').mem32[0x40200050] & 0xffff0000") == 0x01180000
        assert "UP" in lk.peer.run("ip", "link", "show", lk.peer_if)
