"""Network namespaces, veth pairs and taps for integration tests (iproute2).

Every test network lives in namespaces this module creates (names start with
`ks`, suffixed with the pid), so tests address nothing outside them. Teardown
deletes the namespaces, which removes their links, even after a failure; stale
ones from a killed run are reaped on the next start.
"""
import ctypes
import contextlib
import os
import subprocess

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_seq = 0


def sh(*args, check=True, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r.stdout


def available():
    """(ok, reason): can this process make namespaces (root, iproute2, netns)?"""
    if os.geteuid() != 0:
        return False, "needs root to create network namespaces"
    try:
        sh("ip", "-V")
    except (OSError, RuntimeError) as e:
        return False, "iproute2 missing: %s" % e
    name = "ksprobe%d" % os.getpid()
    try:
        sh("ip", "netns", "add", name)
        sh("ip", "netns", "del", name)
    except RuntimeError as e:
        return False, "cannot create a network namespace: %s" % e
    return True, ""


def reap_stale():
    """Delete namespaces left by runs whose process is gone."""
    for line in sh("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("ks") and "-" in name:
            pid = name.rsplit("-", 2)[-2] if name.count("-") >= 2 else ""
            if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
                kill_inside(name)
                sh("ip", "netns", "del", name, check=False)


def kill_inside(name):
    """SIGKILL what still runs in namespace `name` (a lab's ser2net, a QEMU whose
    parent died): deleting a namespace does not stop its processes."""
    for pid in sh("ip", "netns", "pids", name, check=False).split():
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass


class OffloadDrift(AssertionError):
    """A test veth is not at the offloads `ip link add` gives: the stack must meet
    the kernel's defaults (partial checksums, TSO), never have them switched off."""


_veth_defaults = {}


def ethtool_features(ifname, ns=None):
    """{feature: "on"/"off"} from `ethtool -k` (the [fixed] notes dropped)."""
    out = {}
    for line in sh("ethtool", "-k", ifname, ns=ns).splitlines()[1:]:
        k, _, v = line.strip().partition(":")
        if v:
            out[k] = v.split()[0]
    return out


def veth_default_features():
    """Features of a veth freshly made with `ip link add ... type veth` on this
    kernel (made once per run, in a namespace of its own)."""
    if not _veth_defaults:
        name = "ksoff-%d-0" % os.getpid()
        sh("ip", "netns", "add", name)
        try:
            sh("ip", "link", "add", "ksva", "type", "veth", "peer", "name", "ksvb", ns=name)
            _veth_defaults.update(ethtool_features("ksva", ns=name))
        finally:
            sh("ip", "netns", "del", name, check=False)
    return _veth_defaults


def offload_drift(links):
    """["ns/if: feature on -> off", ...] for veths [(NetNS, ifname)] not at the defaults."""
    want = veth_default_features()
    out = []
    for ns, ifname in links:
        try:
            have = ethtool_features(ifname, ns=ns.name)
        except RuntimeError as e:
            out.append("%s/%s: %s" % (ns.name, ifname, e))
            continue
        for k, v in sorted(want.items()):
            if have.get(k) != v:
                out.append("%s/%s: %s %s -> %s (not the kernel's veth default)" % (ns.name, ifname, k, v, have.get(k)))
    return out


class NetNS:
    def __init__(self, role):
        global _seq
        _seq += 1
        self.name = "ks%s-%d-%d" % (role, os.getpid(), _seq)
        sh("ip", "netns", "add", self.name)
        self.run("ip", "link", "set", "lo", "up")
        # No IPv6 chatter (router solicitations, DAD) on the test links.
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", check=False)
        self.run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", check=False)

    def run(self, *args, check=True):
        return sh(*args, check=check, ns=self.name)

    def delete(self):
        kill_inside(self.name)
        sh("ip", "netns", "del", self.name, check=False)

    @contextlib.contextmanager
    def entered(self):
        """Run the block with this thread in the namespace: sockets made inside
        belong to it for their whole life."""
        with open("/proc/self/ns/net") as old, open("/var/run/netns/" + self.name) as new:
            if _libc.setns(new.fileno(), CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns(%s)" % self.name)
            try:
                yield self
            finally:
                if _libc.setns(old.fileno(), CLONE_NEWNET):
                    raise OSError(ctypes.get_errno(), "setns back")

    def __repr__(self):
        return "<netns %s>" % self.name


class Link:
    """A target namespace and a peer namespace joined by a veth pair.

    The target's end (`tgt_if`) has no kernel address: ksock owns it through
    AF_PACKET. The peer's end (`peer_if`) carries `peer_ip`: the Linux kernel
    there is the other host. For QEMU, `tap=True` makes a tap in the peer
    namespace instead, which QEMU (run in that namespace) attaches to.
    """

    def __init__(self, subnet=None, tap=False, mtu=1500):
        n = (os.getpid() * 7 + _seq) % 200 + 20
        self.subnet = subnet or "10.%d.%d" % (200 + n % 50, n)
        self.prefix = 24
        self.peer_ip = self.subnet + ".1"
        self.tgt_ip = self.subnet + ".2"
        self.tgt_mac = "02:00:00:%02x:%02x:02" % (n, _seq % 256)
        self.peer = NetNS("p")
        self.tgt = None
        try:
            if tap:
                self.peer_if = "kstap0"
                self.tgt_if = None
                self.peer.run("ip", "tuntap", "add", "dev", self.peer_if, "mode", "tap")
            else:
                self.tgt = NetNS("t")
                self.peer_if, self.tgt_if = "veth1", "veth0"
                self.peer.run("ip", "link", "add", self.peer_if, "type", "veth", "peer", "name", self.tgt_if,
                              "netns", self.tgt.name)
                self.tgt.run("ip", "link", "set", self.tgt_if, "mtu", mtu, "up")
                self.tgt.run("ip", "link", "set", self.tgt_if, "address", self.tgt_mac)
            # Offloads stay as the kernel sets them (partial checksums, TSO): ksock reads
            # them through the virtio-net header; delete() checks nobody changed them.
            self.peer.run("ip", "link", "set", self.peer_if, "mtu", mtu, "up")
            self.peer.run("ip", "addr", "add", "%s/%d" % (self.peer_ip, self.prefix), "dev", self.peer_if)
        except Exception:
            self.delete()
            raise
        self._built = True

    @property
    def target_ns(self):
        """Namespace to start the target in (QEMU runs beside its tap)."""
        return self.tgt.name if self.tgt else self.peer.name

    def delete(self):
        """Remove the namespaces; fails (OffloadDrift) when a veth of this link was
        not at the kernel's default offloads by then (checked first, raised last)."""
        drift = []
        if self.tgt is not None and getattr(self, "_built", False):
            drift = offload_drift([(self.peer, self.peer_if), (self.tgt, self.tgt_if)])
        for ns in (self.tgt, self.peer):
            if ns:
                ns.delete()
        if drift:
            raise OffloadDrift("; ".join(drift))


class RigLink(Link):
    """A real board's link on a rig: the host NIC cabled to the board (`iface`)
    is moved into a peer namespace made for the test, so the Linux kernel there
    is the board's peer exactly as with a veth, and nothing else on the host is
    addressed. delete() moves the NIC back to the namespace it came from.
    `from_ns` names that namespace (None: the host's)."""

    def __init__(self, iface, subnet="192.168.50", prefix=24, tgt_mac=None, from_ns=None):
        self.subnet = subnet
        self.prefix = prefix
        self.peer_ip = subnet + ".1"
        self.tgt_ip = subnet + ".2"
        self.tgt_mac = tgt_mac  # the board's MAC: read from the target after bring-up
        self.tgt = None
        self.tgt_if = None
        self.peer_if = iface
        self.from_ns = from_ns
        self.peer = NetNS("r")
        try:
            sh("ip", "link", "set", iface, "netns", self.peer.name, ns=from_ns)
            self.peer.run("ip", "link", "set", iface, "up")
            self.peer.run("ip", "addr", "add", "%s/%d" % (self.peer_ip, prefix), "dev", iface)
        except Exception:
            self.delete()
            raise

    @property
    def target_ns(self):
        return None  # the board is on the other end of a cable

    def delete(self):
        # a physical NIC would return to the host on its own; a veth would die
        # None: this process's namespace (pytest may itself run in one, as on a lab exporter's test)
        back = self.from_ns if self.from_ns else str(os.getpid())
        self.peer.run("ip", "addr", "flush", "dev", self.peer_if, check=False)
        self.peer.run("ip", "link", "set", self.peer_if, "netns", back, check=False)
        self.peer.delete()
