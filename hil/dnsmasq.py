"""dnsmasq (Debian dnsmasq-base) as the DHCP and DNS server in a link's peer
namespace: the tests' server and `make run`'s (the demo takes its address by DHCP)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time


class Dnsmasq:
    def __init__(self, lk, dhcp_range=None, extra=(), lease="2m"):
        if shutil.which("dnsmasq") is None:
            raise FileNotFoundError("dnsmasq not installed (firmware/deps.sh installs dnsmasq-base)")
        self.lk = lk
        self.dir = tempfile.mkdtemp(prefix="ksdnsmasq")
        self.leasefile = os.path.join(self.dir, "leases")
        self.logfile = os.path.join(self.dir, "log")
        self.range = dhcp_range or (lk.subnet + ".50", lk.subnet + ".59")
        self.extra = list(extra)
        self.lease = lease
        self.proc = None

    def start(self, dhcp_range=None, extra=None):
        if dhcp_range is not None:
            self.range = dhcp_range
        if extra is not None:
            self.extra = list(extra)
        lk = self.lk
        cmd = ["ip", "netns", "exec", lk.peer.name, "dnsmasq", "-k", "--conf-file=/dev/null",
               "--user=root", "--group=root", "--interface=" + lk.peer_if, "--bind-interfaces",
               "--except-interface=lo", "--no-resolv", "--no-hosts", "--no-ping", "--dhcp-authoritative",
               "--dhcp-range=%s,%s,255.255.255.0,%s" % (self.range[0], self.range[1], self.lease),
               "--dhcp-option=option:router,%s" % lk.peer_ip,
               "--dhcp-option=option:dns-server,%s" % lk.peer_ip,
               "--dhcp-leasefile=" + self.leasefile, "--pid-file=" + os.path.join(self.dir, "pid"),
               "--log-dhcp", "--log-queries", "--log-facility=" + self.logfile] + self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError("dnsmasq failed: %s" % self.proc.stderr.read().decode())
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def leases(self):
        """[(expiry, mac, ip, hostname, client_id)] from the lease file."""
        try:
            with open(self.leasefile) as f:
                return [tuple(line.split()) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_lease(self, timeout=20):
        """The address of the first lease dnsmasq has written, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ls = self.leases()
            if ls:
                return ls[0][2]
            time.sleep(0.1)
        return None
