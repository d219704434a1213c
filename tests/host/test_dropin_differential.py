"""The drop-in socket against the built-in one: tests/host/dropin_cases.py (the
socket API's values, types and errno over loopback, UDP and TCP, blocking,
non-blocking and with timeouts, the stream methods, select.poll) runs with the
unix port's built-in socket on Linux and on ksock through `-m ksock.run`, each
in a fresh namespace of its own; the transcripts must be identical."""
import os
import subprocess

import pytest

from hil import netns
from hil.plugin import require_env
from hil.targets import BUILD

pytestmark = pytest.mark.targets("unix", "unix-nocmod")
CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dropin_cases.py")


@pytest.fixture
def ns(netns_ok):
    require_env(*netns_ok)
    n = netns.NetNS("t")
    yield n
    n.delete()


def _run(ns, argv, tmp_path):
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", ".frozen")
    r = subprocess.run(["ip", "netns", "exec", ns.name] + argv, capture_output=True, text=True,
                       env=env, cwd=str(tmp_path), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.splitlines()


def test_dropin_socket_transcript_matches_builtin(ns, target_name, tmp_path):
    binary = os.path.join(BUILD, target_name, "micropython")
    want = _run(ns, [binary, CASES], tmp_path)
    got = _run(ns, [binary, "-m", "ksock.run", CASES], tmp_path)
    assert len(want) > 50
    for w, g in zip(want, got):
        assert g == w
    assert len(got) == len(want)
