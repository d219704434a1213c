"""`make bench`: run every tests/bench/bench_*.py on each available target,
collect the JSON lines they print, write build/bench/results.json and a table.

A bench script is MicroPython code run on the target; it prints lines
`BENCH {"name": ..., "value": ..., "unit": ...}`. Ratios are computed only
between figures measured in the same process, same run.
"""
import argparse
import glob
import json
import os
import shutil
import socket
import sys
import threading
import time

from hil import netns
from hil.targets import make_target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "build", "bench")


PCAP = ""  # --pcap PREFIX: tcpdump of each net script's link to PREFIX.TARGET.SCRIPT.pcap
NET = "# bench: net"  # first line of a script that needs the Linux peer on a veth/tap
# (optionally followed by " targets=a,b": the targets it runs on, and " peer=tcp":
# which Linux peer it talks to, udp_peer by default)


def udp_peer(lk, stop):
    """The Linux side of bench_udp.py: sink on 9000, control on 9002 (reset,
    count, blast SIZE MS -> datagrams to the target's 9001, then the count sent)."""
    with lk.peer.entered():
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((lk.peer_ip, 9000))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    sink.setblocking(False)
    ctl.bind((lk.peer_ip, 9002))
    ctl.settimeout(0.2)
    count = [0]

    def drain():
        while True:
            try:
                sink.recv(2048)
                count[0] += 1
            except BlockingIOError:
                return

    def sinker():
        import select
        while not stop.is_set():
            if select.select([sink], [], [], 0.1)[0]:
                drain()
    th = threading.Thread(target=sinker, daemon=True)
    th.start()
    try:
        while not stop.is_set():
            try:
                msg, addr = ctl.recvfrom(100)
            except socket.timeout:
                continue
            words = msg.split()
            if words[0] == b"count":
                time.sleep(0.2)
                drain()
                ctl.sendto(b"count %d" % count[0], addr)
            elif words[0] == b"blast":
                size, ms = int(words[1]), int(words[2])
                data = bytes(size)
                n = 0
                end = time.monotonic() + ms / 1000
                dst = (lk.tgt_ip, 9001)
                while time.monotonic() < end:
                    for _ in range(32):
                        out.sendto(data, dst)
                    n += 32
                    time.sleep(0)
                for _ in range(3):  # after the flood, so that one gets through
                    time.sleep(0.4)
                    ctl.sendto(b"blast %d" % n, addr)
            else:  # hello, reset
                drain()
                count[0] = 0
                ctl.sendto(words[0] + b" ok", addr)
    finally:
        stop.set()
        th.join(1)
        for s in (sink, ctl, out):
            s.close()


def tcp_peer(lk, stop):
    """The Linux side of bench_tcp.py (CPython sockets in the peer namespace):
    9101 sink (reads to EOF, answers the byte count), 9102 source (sends until
    the reader goes away), 9100 control: `conn N PORT` connects to the
    target's PORT and closes, N times (4 clients at once, each waiting for the
    target's FIN; `conn N PORT BASE`: each client from its own bound port
    from BASE on, so every 4-tuple is new to the target), `hold M PORT` opens
    M connections and keeps them until `release`; each command is answered with `ok`."""
    with lk.peer.entered():
        socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(3)]
    for s, port in zip(socks, (9100, 9101, 9102)):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((lk.peer_ip, port))
        s.listen(8)
        s.settimeout(0.2)
    ctl, sink, source = socks
    held = []

    def connect(port, sport=0):
        with lk.peer.entered():
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(10)
        if sport:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            c.bind((lk.peer_ip, sport))
        c.connect((lk.tgt_ip, port))
        return c

    def sinker(c):
        buf = bytearray(1 << 16)
        n = 0
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            n += k
        c.sendall(b"%d\n" % n)
        c.close()

    def sourcer(c):
        data = bytes(1 << 16)
        try:
            while True:
                c.sendall(data)
        except OSError:
            pass
        c.close()

    def control(c):
        f = c.makefile("rb")
        for line in f:
            w = line.split()
            if w[0] == b"conn":
                # 4 clients each in a connect, wait-for-the-server's-FIN, close loop:
                # the target always has a connection to accept, and its accept
                # queue never overflows (a dropped SYN would cost a 1 s retry)
                base = int(w[3]) if len(w) > 3 else 0

                def loop(k, i, port=int(w[2])):
                    for j in range(k):
                        s = connect(port, base + i + 4 * j if base else 0)
                        s.recv(1)
                        s.close()
                n = int(w[1])
                ths = [threading.Thread(target=loop, args=(n // 4 + (i < n % 4), i)) for i in range(4)]
                for th in ths:
                    th.start()
                for th in ths:
                    th.join()
            elif w[0] == b"hold":
                held.extend(connect(int(w[2])) for _ in range(int(w[1])))
            elif w[0] == b"echo":
                c.sendall(b"ok %d %d %d %d %d %.1f\n" % echo_clients(lk, int(w[1]), int(w[2]), int(w[3])))
                continue
            elif w[0] == b"release":
                while held:
                    held.pop().close()
            c.sendall(b"ok\n")
        c.close()

    def acceptor(ls, fn):
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            c.settimeout(60)
            threading.Thread(target=fn, args=(c,), daemon=True).start()
    ths = [threading.Thread(target=acceptor, args=a, daemon=True)
           for a in ((sink, sinker), (source, sourcer), (ctl, control))]
    for th in ths:
        th.start()
    try:
        stop.wait()
    finally:
        for th in ths:
            th.join(1)
        for s in socks + held:
            s.close()


def echo_clients(lk, m, secs, port):
    """`echo M SECS PORT`: M connections to the target's PORT, each sending
    1 KiB once a second for SECS s and checking its echo, one selector loop;
    ping every 200 ms meanwhile. Returns (established, echoes intact, echoes
    sent, pings sent, pings answered, worst RTT ms)."""
    import selectors
    import subprocess
    ping = subprocess.Popen(["ip", "netns", "exec", lk.peer.name, "ping", "-i", "0.2", "-W", "2",
                             "-w", str(secs + 4), lk.tgt_ip], stdout=subprocess.PIPE, text=True)
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(m):
        with lk.peer.entered():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((lk.tgt_ip, port))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        st = {"s": s, "want": b"", "got": b""}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    sent = ok = 0
    end = time.monotonic() + secs
    tick = time.monotonic()
    while time.monotonic() < end + 3:
        now = time.monotonic()
        if now >= tick and now < end:
            tick += 1
            for k, st in enumerate(conns):
                if st["want"]:
                    continue  # the last echo is not back: this second's is skipped, not queued
                st["want"] = bytes((sent + k + j) & 0xFF for j in range(1024))
                st["got"] = b""
                try:
                    st["s"].sendall(st["want"])
                except OSError:
                    pass
                sent += 1
        for key, _ in sel.select(0.05):
            st = key.data
            try:
                d = st["s"].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(st["s"])
                continue
            st["got"] += d
            if len(st["got"]) >= len(st["want"]):
                ok += st["got"] == st["want"]
                st["want"] = b""
        if now >= end and not any(st["want"] for st in conns):
            break
    for st in conns:
        st["s"].close()
    out = ping.communicate(timeout=30)[0]
    rtts = [float(x.split("time=")[1].split()[0]) for x in out.splitlines() if "time=" in x]
    tx = next((int(x.split()[0]) for x in out.splitlines() if "packets transmitted" in x), 0)
    return len(conns), ok, sent, tx, len(rtts), max(rtts) if rtts else -1.0


def dnsmasq_peer(lk, stop):
    """bench_netcfg.py's peer: dnsmasq giving DHCP leases and answering peer.ks.test."""
    import subprocess
    import tempfile
    d = tempfile.mkdtemp(prefix="ksbench")
    p = subprocess.Popen(["ip", "netns", "exec", lk.peer.name, "dnsmasq", "-k", "--conf-file=/dev/null",
                          "--user=root", "--group=root", "--interface=" + lk.peer_if, "--bind-interfaces",
                          "--except-interface=lo", "--no-resolv", "--no-hosts", "--no-ping",
                          "--dhcp-range=%s.50,%s.59,255.255.255.0,2m" % (lk.subnet, lk.subnet),
                          "--dhcp-option=option:router,%s" % lk.peer_ip,
                          "--dhcp-option=option:dns-server,%s" % lk.peer_ip, "--local-ttl=60",
                          "--host-record=peer.ks.test,%s" % lk.peer_ip, "--dhcp-leasefile=%s/l" % d,
                          "--pid-file=%s/p" % d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stop.wait()
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


QUICK = [False]  # --quick: scripts see QUICK = True and run short
def tls_pki(d):
    """bench_tls.py's certificates, made by the openssl CLI in d: a test CA and
    peer.ksock.lan's EC P-256 certificate. Returns the script's prelude (CA_DER)."""
    import subprocess

    def ossl(*a):
        subprocess.run(["openssl"] + list(a), cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ksock bench CA")
    ossl("req", *ec, "-keyout", "peer.key", "-out", "peer.csr", "-subj", "/CN=peer.ksock.lan")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:peer.ksock.lan\n")
    ossl("x509", "-req", "-in", "peer.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "peer.pem", "-days", "2", "-extfile", "ext")
    ossl("x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der")
    # NOW: a board's clock starts in the past (no NTP here): the script sets it,
    # or the certificates made today would not be valid yet
    return "CA_DER = %r\nNOW = %r\n" % (open(os.path.join(d, "ca.der"), "rb").read(), tuple(time.gmtime()[:6]))


def tls_peer(lk, stop, d):
    """bench_tls.py's peer: openssl s_server -www on 4433 (a status page per GET)."""
    import subprocess
    p = subprocess.Popen(["ip", "netns", "exec", lk.peer.name, "openssl", "s_server", "-accept",
                          "%s:4433" % lk.peer_ip, "-cert", os.path.join(d, "peer.pem"),
                          "-key", os.path.join(d, "peer.key"), "-www", "-quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stop.wait()
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


PEERS = {"udp": udp_peer, "tcp": tcp_peer, "dnsmasq": dnsmasq_peer, "tls": tls_peer}


def run_net(spec, path):
    """A `# bench: net` script: the target in its namespace, Linux on the link."""
    ok, why = netns.available()
    if not ok:
        print("skipping %s on %s: %s" % (os.path.basename(path), spec, why))
        return []
    netns.reap_stale()
    lk = netns.Link(tap=(spec == "qemu"))
    kw = {"netns": lk.target_ns}
    if spec == "qemu":
        kw["nic"] = "tap,model=lan9118,ifname=%s,script=no,downscript=no,mac=%s" % (lk.peer_if, lk.tgt_mac)
    if spec.startswith("rp2js"):  # the W5500 model's wire is the veth
        kw["ifname"], kw["mac"] = lk.tgt_if, lk.tgt_mac
    stop = threading.Event()
    kind = open(path).readline().partition("peer=")[2].split()
    kind = kind[0] if kind else "udp"
    args, extra = (lk, stop), ""
    if kind == "tls":
        import tempfile
        d = tempfile.mkdtemp(prefix="ksbench")
        extra, args = tls_pki(d), (lk, stop, d)
    peer = threading.Thread(target=PEERS[kind], args=args, daemon=True)
    t = make_target(spec, **kw)
    cap = None
    try:
        t.start()
        if PCAP:  # --pcap: the link as the Linux peer sees it, for the timing of segments and ACKs
            import subprocess
            cap = subprocess.Popen(["ip", "netns", "exec", lk.peer.name, "tcpdump", "-i", lk.peer_if, "-s", "96",
                                    "-U", "-w", "%s.%s.%s.pcap" % (PCAP, spec, os.path.basename(path)[:-3])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # tcpdump is capturing before the first frame
        peer.start()
        iface = {"qemu": "lan9118"}.get(spec, "board:" + t.board if spec.startswith("rp2js") else lk.tgt_if)
        pre = "IFACE = %r\nTGT_IP = %r\nPEER_IP = %r\nQUICK = %r\n" % (iface, lk.tgt_ip, lk.peer_ip, QUICK[0]) + extra
        return t.exec(pre + open(path).read(), timeout=900)
    finally:
        if cap is not None:
            cap.terminate()
            cap.wait(5)
        stop.set()
        t.stop()
        peer.join(3)
        lk.delete()


def run_on(spec, scripts):
    rows = []
    t = make_target(spec).start()
    try:
        for path in scripts:
            head = open(path).readline()
            if head.startswith(NET):
                only = head.partition("targets=")[2].split()
                if only and spec not in only[0].split(","):
                    continue
                try:
                    out = run_net(spec, path)
                except Exception as e:  # noqa: BLE001 - one script's failure does not end the run
                    print("%s on %s failed: %s" % (os.path.basename(path), spec, getattr(e, "traceback", e)))
                    out = ""
            else:
                t.soft_reset()
                out = t.exec(open(path).read(), timeout=900)
            for line in out.splitlines() if out else ():
                if line.startswith("BENCH "):
                    r = json.loads(line[6:])
                    r["target"] = spec
                    r["script"] = os.path.basename(path)
                    rows.append(r)
    finally:
        t.stop()
    return rows


def skb_ratios(rows):
    """TCP Mbit/s with the C skb (unix) over the Python skb (unix-nocmod): two
    processes, one after the other in the same run on the same machine."""
    by = {(r["target"], r["name"]): r["value"] for r in rows if r["script"] == "bench_tcp.py" and r["unit"] == "Mbit/s"}
    out = []
    for (tg, name), v in by.items():
        py = by.get(("unix-nocmod", name))
        if tg == "unix" and py:
            out.append({"name": name + ", C skb / Python skb", "value": round(v / py, 2), "unit": "x",
                        "target": "unix/unix-nocmod", "script": "bench_tcp.py"})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="unix,unix-nocmod,qemu")
    ap.add_argument("--only", default="", help="substring of bench script names")
    ap.add_argument("--quick", action="store_true", help="a few seconds a row (CI: every row is produced)")
    ap.add_argument("--pcap", default="", help="capture each net script's link to PREFIX.TARGET.SCRIPT.pcap")
    a = ap.parse_args(argv)
    QUICK[0] = a.quick
    global PCAP
    PCAP = a.pcap
    scripts = sorted(p for p in glob.glob(os.path.join(ROOT, "tests", "bench", "bench_*.py")) if a.only in p)
    targets = [s for s in a.targets.split(",") if s != "qemu" or shutil.which("qemu-system-arm")]
    rows = []
    for spec in targets:
        rows += run_on(spec, scripts)
    rows += skb_ratios(rows)
    os.makedirs(OUT, exist_ok=True)
    res = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "host": os.uname().nodename, "results": rows}
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    lines = ["| target | benchmark | value | unit |", "|---|---|---|---|"]
    for r in rows:
        v = r["value"]
        lines.append("| %s | %s | %s | %s |" % (r["target"], r["name"], ("%.3g" % v) if isinstance(v, float) else v, r["unit"]))
    table = "\n".join(lines)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    print("\nwritten: build/bench/results.json, build/bench/results.md")


if __name__ == "__main__":
    sys.exit(main())
