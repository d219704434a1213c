"""A whole labgrid lab on this machine, with the QEMU board as its one place.

    python -m hil.qemu_lab            # start it, print how to use it, Ctrl-C stops it

Everything lives in a network namespace of its own (`kslab-...`): labgrid's
coordinator on 127.0.0.1, an exporter serving the board's UART (QEMU's pty, as
a RawSerialPort that labgrid exports through ser2net over RFC 2217) and the tap
cabled to the board's LAN9118 (a NetworkInterface), and a place `ksock-qemu`
tagged board=QEMU_MPS2_AN385, acquired. `pytest --target=labgrid` run inside
the namespace then finds the board exactly as on a lab with real exporters;
tests/host/test_labgrid.py does that in CI.
"""
import os
import subprocess
import sys
import time

from hil import netns as _netns
from hil.lab import LabError
from hil.targets import ROOT, QemuTarget, _die_with_parent

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PLACE = "ksock-qemu"
EXPORTER = "ksock-lab"
COORD = "127.0.0.1:20408"
TAP = "lgtap0"
BOARD_MAC = "02:4b:53:00:00:02"


def tools_missing():
    """Why a lab cannot start here, or None."""
    for exe in ("labgrid-coordinator", "labgrid-exporter", "labgrid-client"):
        if not os.path.exists(os.path.join(VENV_BIN, exe)):
            return "%s missing from .venv: run `make deps`" % exe
    if not any(os.path.exists(os.path.join(d, "ser2net")) for d in ("/usr/sbin", "/usr/bin")):
        return "ser2net missing (labgrid's exporter serves serial ports with it): run `make deps`"
    return None


class QemuLab:
    def __init__(self, workdir):
        self.dir = workdir
        self.ns = None
        self.qemu = None
        self.procs = []

    # -- commands inside the lab's namespace --
    def _ns(self, argv):
        return ["ip", "netns", "exec", self.ns.name] + argv

    def client(self, *args, check=True, timeout=30):
        r = subprocess.run(self._ns([os.path.join(VENV_BIN, "labgrid-client"), "-x", COORD] + list(args)),
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode:
            raise LabError("labgrid-client %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
        return r.stdout

    def _daemon(self, name, argv):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        p = subprocess.Popen(self._ns(argv), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                             stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        self.procs.append((name, p))
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def _wait(self, what, fn, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            err = None
            try:
                if fn():
                    return
            except (LabError, subprocess.TimeoutExpired) as e:
                err = e
            for name, p in self.procs:
                if p.poll() is not None:
                    raise LabError("%s exited (%s) while waiting for %s:\n%s" % (name, p.returncode, what,
                                                                                 self.log(name)))
            if time.monotonic() > deadline:
                raise LabError("timeout waiting for %s (%s)" % (what, err))
            time.sleep(0.3)

    # -- lifecycle --
    def start(self):
        why = tools_missing()
        if why:
            raise LabError(why)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.ns = _netns.NetNS("lab")
        # ser2net's listener resolves with AI_ADDRCONFIG, which finds nothing in a
        # namespace with only lo: a veth pair inside it gives it an IPv4 address.
        self.ns.run("ip", "link", "add", "lgaddr0", "type", "veth", "peer", "name", "lgaddr1")
        self.ns.run("ip", "addr", "add", "198.18.0.1/30", "dev", "lgaddr0")
        self.ns.run("ip", "link", "set", "lgaddr0", "up")
        self.ns.run("ip", "link", "set", "lgaddr1", "up")
        # The "host NIC cabled to the board": a tap QEMU's LAN9118 sits on.
        self.ns.run("ip", "tuntap", "add", "mode", "tap", "name", TAP)
        self.qemu = QemuTarget(netns=self.ns.name,
                               nic="tap,model=lan9118,ifname=%s,script=no,downscript=no,mac=%s" % (TAP, BOARD_MAC))
        pty_path = self.qemu.spawn()
        self._daemon("coordinator", [os.path.join(VENV_BIN, "labgrid-coordinator"), "-l", COORD])
        self._wait("the coordinator", self._coord_up)
        with open(os.path.join(self.dir, "exporter.yaml"), "w") as f:
            f.write("%s:\n  RawSerialPort:\n    port: %s\n    speed: 115200\n"
                    "  NetworkInterface:\n    ifname: %s\n" % (PLACE, pty_path, TAP))
        self._daemon("exporter", [os.path.join(VENV_BIN, "labgrid-exporter"), "-c", COORD, "-n", EXPORTER,
                                  "--hostname", "127.0.0.1", "exporter.yaml"])
        self._wait("the exporter's resources", lambda: "NetworkSerialPort" in self.client("resources"))
        self.client("-p", PLACE, "create")
        self.client("-p", PLACE, "add-match", "%s/%s/*" % (EXPORTER, PLACE))
        self.client("-p", PLACE, "set-tags", "board=QEMU_MPS2_AN385")
        self.client("-p", PLACE, "acquire")
        with open(self.env_file, "w") as f:
            f.write("targets:\n  main:\n    resources:\n      RemotePlace:\n        name: %s\n" % PLACE)

    def _coord_up(self):
        r = subprocess.run(self._ns([sys.executable, "-c",
                                     "import socket; socket.create_connection(('127.0.0.1', %s), 1)" %
                                     COORD.split(":")[1]]), capture_output=True)
        return r.returncode == 0

    @property
    def env_file(self):
        return os.path.join(self.dir, "lab.yaml")

    def pytest_argv(self, *args):
        """A pytest run inside the lab's namespace against the place."""
        return self._ns(["env", "LG_COORDINATOR=" + COORD, sys.executable, "-m", "pytest",
                         "--target=labgrid", "--lg-env", self.env_file] + list(args))

    def stop(self):
        if self.ns and any(n == "coordinator" and p.poll() is None for n, p in self.procs):
            try:
                self.client("-p", PLACE, "release", check=False, timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for name, p in reversed(self.procs):  # exporter first: it stops its ser2net
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, 9)
                    p.wait()
        self.procs = []
        if self.qemu:
            self.qemu.stop()
            self.qemu = None
        if self.ns:
            self.ns.delete()
            self.ns = None


def main():
    import signal
    import tempfile

    def term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, term)
    d = tempfile.mkdtemp(prefix="ksock-lab-")
    lab = QemuLab(d)
    try:
        lab.start()
        print("lab up in namespace %s (logs in %s); place %s acquired" % (lab.ns.name, d, PLACE))
        print("run the suite against it:\n  %s tests/host/test_link_ipv4.py"
              % " ".join(lab.pytest_argv()))
        print("Ctrl-C stops the lab")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
