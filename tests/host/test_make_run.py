"""`make run`: host_tools.run brings ksock up in its namespace through the
launcher with the demo server, its address by DHCP from dnsmasq in the peer
namespace, a name resolved through dnsmasq's DNS, and the Linux side reaches it
(UDP echo on 7; HTTP on 80 once the stack has TCP). --check exercises it once
and stops; --static skips DHCP."""
import os
import subprocess
import sys

import pytest

from hil import netns
from hil.plugin import require_env
from hil.targets import ROOT

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "qemu")


def test_make_run_demo_reachable_from_linux_and_cleaned_up(netns_ok, target_name):
    require_env(*netns_ok)
    p = subprocess.Popen([sys.executable, "-m", "host_tools.run", "--target=" + target_name, "--check"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    out = p.communicate(timeout=120)[0]
    assert p.returncode == 0, out
    assert "demo: ready" in out
    assert "check: DHCP lease from dnsmasq" in out and "FAILED" not in out.split("check: DHCP lease")[1].split("\n")[0]
    assert "check: the demo resolved peer.ksock.lan" in out and "FAILED" not in out
    assert "check: UDP echo" in out and "ok" in out.split("check: UDP echo")[1].split("\n")[0]
    if os.path.exists(os.path.join(ROOT, "ksock", "net", "ipv4", "tcp_ipv4.py")):
        assert "check: HTTP GET" in out and "FAILED" not in out
    if target_name.startswith("unix"):  # the unix ports have ssl: HTTPS with a certificate made for the run
        assert "check: HTTPS GET https://ksock-demo.ksock.lan/" in out, out
        assert "certificate verified: ok" in out.split("check: HTTPS GET")[1].split("\n")[0], out
    assert "demo: served" in out  # the launcher stopped the program with Ctrl-C (SIGINT)
    left = [n for n in netns.sh("ip", "netns", "list").split() if "-%d-" % p.pid in n]
    assert not left  # its namespaces (named ks*-<pid>-<n>) are gone


def test_make_run_static_address_without_dhcp(netns_ok, target_name):
    require_env(*netns_ok)
    p = subprocess.run([sys.executable, "-m", "host_tools.run", "--target=" + target_name, "--check", "--static"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "check: DHCP" not in p.stdout and "check: UDP echo" in p.stdout and "FAILED" not in p.stdout
