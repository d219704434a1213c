"""`make run`: ksock in its own network namespace running the demo server
(ksock/examples/demo_server.py) through the launcher (`micropython -m ksock.run`),
with the Linux kernel as the peer on a veth (unix) or tap (QEMU). It serves UDP
echo on port 7 and, once the stack has TCP, TCP echo on 7 and an HTTP page with
ksock's socket table and counters on 80 (unix targets: the same page over TLS on
443, with a certificate made for the run by make_cert). ksock takes its address by DHCP from a
dnsmasq in the peer namespace (Debian dnsmasq-base), which also answers DNS: the
demo resolves peer.ksock.lan (the Linux side) before it serves. Ctrl-C stops it
and removes everything.

    python -m host_tools.run --target=unix|unix-nocmod|qemu|rp2js [--check] [--status] [--static]

--check: bring it up, exercise it from the Linux side once (UDP echo, HTTP when
TCP is there, HTTPS when ssl is), print the results and stop (exit status 0 when all worked).
--status: only boot the target and print its bring-up report (the old `make run`).
--static: a fixed address (the link's .2) instead of DHCP, no dnsmasq.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from hil import netns
from hil.dnsmasq import Dnsmasq
from hil.targets import BUILD, ROOT, make_target

PEER_NAME = "peer.ksock.lan"  # dnsmasq's record for the Linux side, which the demo resolves
HTTPS_NAME = "ksock-demo.ksock.lan"  # the name in the demo's certificate (unix targets: HTTPS on 443)

DEMO = os.environ.get("KSOCK_DEMO") or os.path.join(ROOT, "ksock", "examples", "demo_server.py")


def _tcp_in_tree():
    return os.path.exists(os.path.join(ROOT, "ksock", "net", "ipv4", "tcp_ipv4.py"))


def check_udp_echo(lk, port=7, tries=20):
    with lk.peer.entered():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(0.5)
    try:
        for _ in range(tries):
            c.sendto(b"hello ksock", (lk.tgt_ip, port))
            try:
                data, addr = c.recvfrom(100)
                return data == b"hello ksock" and addr == (lk.tgt_ip, port)
            except socket.timeout:
                continue
        return False
    finally:
        c.close()


def check_http(lk):
    """GET / from the Linux side (curl when installed, else a CPython socket)."""
    if shutil.which("curl"):
        r = subprocess.run(["ip", "netns", "exec", lk.peer.name, "curl", "-sS", "-m", "10",
                            "http://%s/" % lk.tgt_ip], capture_output=True, text=True)
        return r.returncode == 0 and "/proc/net/snmp" in r.stdout, r.stdout + r.stderr
    with lk.peer.entered():
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(10)
    try:
        c.connect((lk.tgt_ip, 80))
        c.sendall(b"GET / HTTP/1.0\r\nHost: ksock\r\n\r\n")
        out = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            out += d
        text = out.decode("utf-8", "replace")
        return text.startswith("HTTP/1.0 200") and "/proc/net/snmp" in text, text
    except OSError as e:
        return False, str(e)
    finally:
        c.close()


def make_cert(d):
    """A CA and HTTPS_NAME's certificate signed by it, made now by the openssl
    CLI in d (EC P-256, two days): {"ca", "cert", "key"} paths, None without openssl."""
    if not shutil.which("openssl"):
        return None

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=make run demo CA")
    ossl("req", *ec, "-keyout", "demo.key", "-out", "demo.csr", "-subj", "/CN=" + HTTPS_NAME)
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:%s\n" % HTTPS_NAME)
    ossl("x509", "-req", "-in", "demo.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "demo.pem", "-days", "2", "-extfile", "ext")
    return {k: os.path.join(d, v) for k, v in (("ca", "ca.pem"), ("cert", "demo.pem"), ("key", "demo.key"))}


def _curl_https(lk, ca):
    return ["ip", "netns", "exec", lk.peer.name, "curl", "-sS", "-m", "20", "--cacert", ca,
            "--resolve", "%s:443:%s" % (HTTPS_NAME, lk.tgt_ip), "https://%s/" % HTTPS_NAME]


def check_https(lk, ca):
    """GET / over TLS from the Linux side with curl, the certificate verified
    against this run's CA and its name against HTTPS_NAME."""
    if not shutil.which("curl"):
        return False, "curl not installed"
    r = subprocess.run(_curl_https(lk, ca), capture_output=True, text=True)
    return r.returncode == 0 and "/proc/net/snmp" in r.stdout, r.stdout + r.stderr


def _leased(a, lk, timeout=20):
    """--dhcp: wait for dnsmasq's lease and point the checks at that address."""
    if not a.dhcp:
        return True
    ip = a.dhcp.wait_lease(timeout)
    print("check: DHCP lease from dnsmasq in %s: %s" % (lk.peer.name, ip or "FAILED (none)"))
    if ip:
        lk.tgt_ip = ip
    return bool(ip)


def _resolved(lk, out):
    ok = "demo: %s is ('%s', 80)" % (PEER_NAME, lk.peer_ip) in out
    print("check: the demo resolved %s to %s through dnsmasq: %s" % (PEER_NAME, lk.peer_ip, "ok" if ok else "FAILED"))
    return ok


def _checks(lk, tcp, slowdown=1, tls=None):
    ok = check_udp_echo(lk, tries=20 * slowdown)  # after a lease the board still probes the address (RFC 5227)
    print("check: UDP echo on %s:7 from Linux: %s" % (lk.tgt_ip, "ok" if ok else "FAILED"))
    if tcp:
        hok, text = check_http(lk)
        print("check: HTTP GET http://%s/ from Linux: %s" % (lk.tgt_ip, "ok" if hok else "FAILED"))
        if not hok:
            print(text[-2000:])
        ok = ok and hok
    if tcp and tls:
        sok, text = check_https(lk, tls["ca"])
        print("check: HTTPS GET https://%s/ (%s) from Linux, certificate verified: %s" % (
            HTTPS_NAME, lk.tgt_ip, "ok" if sok else "FAILED"))
        if not sok:
            print(text[-2000:])
        ok = ok and sok
    return ok


def _howto(lk, tcp, tls=None):
    print("from the Linux side (namespace %s, %s on %s):" % (lk.peer.name, lk.peer_ip, lk.peer_if))
    print("  ip netns exec %s sh -c 'echo hi | nc -u -w1 %s 7'" % (lk.peer.name, lk.tgt_ip))
    if tcp:
        print("  ip netns exec %s curl http://%s/" % (lk.peer.name, lk.tgt_ip))
        print("  ip netns exec %s nc %s 7" % (lk.peer.name, lk.tgt_ip))
    if tcp and tls:
        print("  " + " ".join(_curl_https(lk, tls["ca"])))


def run_unix(a, lk):
    binary = os.path.join(BUILD, a.target, "micropython")
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", ".frozen")
    addr = ["--addr", "dhcp", "--hostname", "ksock-demo"] if a.dhcp else [
        "--addr", "%s/%d" % (lk.tgt_ip, lk.prefix), "--gw", lk.peer_ip]
    tmp = tempfile.mkdtemp(prefix="ksock-run-")
    tls = make_cert(tmp)  # HTTPS beside HTTP, with a certificate made for this run
    cmd = ["ip", "netns", "exec", lk.tgt.name, binary, "-m", "ksock.run",
           "--iface", lk.tgt_if] + addr + [DEMO] + (["--resolve", PEER_NAME] if a.dhcp else []) + (
               ["--https", tls["cert"], tls["key"]] if tls else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                         cwd=BUILD, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []

    def pump():
        for line in p.stdout:
            lines.append(line)
            print("ksock| " + line, end="", flush=True)
    th = threading.Thread(target=pump, daemon=True)
    th.start()
    ok = False
    try:
        deadline = time.monotonic() + 30
        while not any("demo: ready" in x for x in lines):
            if p.poll() is not None or time.monotonic() > deadline:
                print("make run: the demo did not come up")
                return 1
            time.sleep(0.05)
        tcp = not any("TCP not in this stack" in x for x in lines)
        if not any("HTTPS on 443" in x for x in lines):
            tls = None  # this interpreter has no ssl
        ok = _leased(a, lk)
        print("ksock on %s in netns %s at %s/%d; Linux peer %s on %s" % (
            a.target, lk.tgt.name, lk.tgt_ip, lk.prefix, lk.peer_ip, lk.peer_if))
        if a.dhcp:
            ok = _resolved(lk, "".join(lines)) and ok
        ok = _checks(lk, tcp, tls=tls) and ok
        if not a.check:
            _howto(lk, tcp, tls)
            print("up; Ctrl-C to stop")
            p.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)  # the launcher tears the stack down
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        th.join(2)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def _board_kw(target, lk):
    if target == "qemu":
        return {"nic": "tap,model=lan9118,ifname=%s,script=no,downscript=no,mac=%s" % (lk.peer_if, lk.tgt_mac)}
    if target == "rp2js":  # the W5500 model on SPI0, its wire the veth
        return {"ifname": lk.tgt_if, "mac": lk.tgt_mac}
    return {}


def run_qemu(a, lk):
    """The board (QEMU, or rp2js: the W5500-EVB-Pico firmware on rp2040js): the same
    launcher, driven over the raw REPL, running the demo frozen into the firmware
    (KSOCK_DEMO=file.py: that file, via the RAM fs)."""
    t = make_target(a.target, netns=lk.target_ns, **_board_kw(a.target, lk))
    ok = False
    box = {}
    try:
        t.start()
        prog = "ksock.examples.demo_server"  # frozen: no heap spent compiling it on the board
        if os.environ.get("KSOCK_DEMO"):
            with open(DEMO) as f:
                t.put("/ram/demo_server.py", f.read())
            prog = "/ram/demo_server.py"
        max_ms = 12000 if a.check else 1 << 29
        nic = "'--board', 'W5500_EVB_PICO'" if a.target == "rp2js" else "'--iface', 'eth0'"
        addr = ("'--addr', 'dhcp', '--hostname', 'ksock-demo'" if a.dhcp else
                "'--addr', '%s/%d', '--gw', '%s'" % (lk.tgt_ip, lk.prefix, lk.peer_ip))
        extra = ", '--resolve', %r" % PEER_NAME if a.dhcp else ""
        code = ("import ksock.run\nksock.run.main([%s, %s, %r, '--max-ms', '%d'%s])\n"
                % (nic, addr, prog, max_ms, extra))

        def go():
            try:
                box["out"] = t.exec(code, timeout=(max_ms + 20000) / 1000 * getattr(t, "slowdown", 1) + 30)
            except Exception as e:  # noqa: BLE001 - reported below
                box["err"] = e
        th = threading.Thread(target=go, daemon=True)
        th.start()
        time.sleep(3)
        tcp = _tcp_in_tree()
        ok = _leased(a, lk, 20 * getattr(t, "slowdown", 1))
        print("ksock on %s (netns %s) at %s/%d; Linux peer %s on %s" % (
            a.target, lk.target_ns, lk.tgt_ip, lk.prefix, lk.peer_ip, lk.peer_if))
        ok = _checks(lk, tcp, getattr(t, "slowdown", 1)) and ok
        if not a.check:
            _howto(lk, tcp)
            print("up; Ctrl-C to stop")
        th.join()
        if "err" in box:
            print("board: %s" % (getattr(box["err"], "traceback", None) or box["err"]))
            ok = False
        else:
            print(box.get("out", ""), end="")
            if a.dhcp:
                ok = _resolved(lk, box.get("out", "")) and ok
    except KeyboardInterrupt:
        pass
    finally:
        t.stop()
    return 0 if ok else 1


def status(a):
    lk = netns.Link(tap=(a.target == "qemu"))
    t = make_target(a.target, netns=lk.target_ns, **_board_kw(a.target, lk))
    try:
        t.start()
        print("ksock on %s in netns %s; Linux peer %s on %s (%s/24)" % (
            a.target, lk.target_ns, lk.peer.name, lk.peer_if, lk.peer_ip))
        print(t.exec("import ksock.boot\nksock.boot.print_status()"), end="")
    finally:
        t.stop()
        lk.delete()
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="unix", help="unix | unix-nocmod | qemu | rp2js")
    ap.add_argument("--check", action="store_true", help="exercise the demo once from Linux, then stop")
    ap.add_argument("--status", action="store_true", help="only print the target's bring-up report")
    ap.add_argument("--keep", action="store_true", help="(default) stay up until Ctrl-C")
    ap.add_argument("--static", action="store_true", help="a fixed address instead of DHCP from dnsmasq")
    a = ap.parse_args(argv)
    ok, why = netns.available()
    if not ok:
        sys.exit("make run: %s" % why)
    netns.reap_stale()
    if a.status:
        return status(a)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    lk = netns.Link(tap=(a.target == "qemu"))
    a.dhcp = None
    try:
        if not a.static:
            a.dhcp = Dnsmasq(lk, extra=["--host-record=%s,%s" % (PEER_NAME, lk.peer_ip)]).start()
        return run_qemu(a, lk) if a.target in ("qemu", "rp2js") else run_unix(a, lk)
    finally:
        if a.dhcp:
            a.dhcp.close()
        lk.delete()


if __name__ == "__main__":
    sys.exit(main())
