"""Third-party MicroPython programs run on ksock as on MicroPython's own socket
(issue 14): umqtt.simple against mosquitto, an asyncio start_server echo with
the default backlog, a microdot 2.x web app. Libraries come from PyPI at test
time (hil/thirdparty.py), mosquitto and curl from Debian. Each runs on ksock
(`micropython -m ksock.run`) and, as the reference, on the same interpreter's
own socket over the Linux kernel, on a default veth at the default heap."""
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from hil import thirdparty
from hil.plugin import require_env
from hil.targets import BUILD
from launch import Server

pytestmark = pytest.mark.targets("unix", "unix-nocmod")
PROGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
IMPLS = ["micropython", "ksock"]


@pytest.fixture
def binary(netns_ok, target_name):
    require_env(*netns_ok)
    return os.path.join(BUILD, target_name, "micropython")


def _wait_port(srv, port, deadline=20):
    end = time.monotonic() + deadline
    while True:
        try:
            srv.connect(port, 2).close()
            return
        except OSError:
            if time.monotonic() > end or srv.p.poll() is not None:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("impl", IMPLS)
def test_umqtt_simple_qos0_qos1_with_mosquitto(binary, impl, tmp_path):
    if not shutil.which("mosquitto") or not shutil.which("mosquitto_pub"):
        require_env(False, "mosquitto/mosquitto-clients not installed (firmware/deps.sh installs them)")
    lib = thirdparty.fetch("umqtt.simple")
    srv = Server(impl, binary, os.path.join(PROGS, "mqtt_client.py"), path=[lib], start=False)
    lk = srv.lk
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener 1883 %s\nallow_anonymous true\n" % lk.peer_ip)
    broker = subprocess.Popen(["ip", "netns", "exec", lk.peer.name, "mosquitto", "-c", str(conf)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sub = None
    try:
        with lk.peer.entered():
            for _ in range(100):  # the broker is listening
                try:
                    socket.create_connection((lk.peer_ip, 1883), 1).close()
                    break
                except OSError:
                    time.sleep(0.05)
        sub = subprocess.Popen(["ip", "netns", "exec", lk.peer.name, "mosquitto_sub", "-h", lk.peer_ip,
                                "-t", "ks/out", "-q", "1", "-C", "2", "-W", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        srv.start((lk.peer_ip, 4))
        for q in ("0", "1"):
            lk.peer.run("mosquitto_pub", "-h", lk.peer_ip, "-t", "ks/in", "-q", q, "-m", "from-linux-qos" + q)
        st, out, err = srv.finish(60)
        sub_out, _ = sub.communicate(timeout=30)
    finally:
        for x in (sub, broker):
            if x and x.poll() is None:
                x.kill()
                x.communicate()
        srv.kill()
        srv.delete()
    assert st == 0 and "Traceback" not in err, err
    msgs = sorted(l for l in out.splitlines() if l.startswith("msg "))
    assert msgs == ["msg ks/in from-linux-qos0", "msg ks/in from-linux-qos1",
                    "msg ks/out own-qos0", "msg ks/out own-qos1"], out
    assert sorted(sub_out.split()) == ["own-qos0", "own-qos1"], sub_out


def _tcpext(ns, name):
    """A TcpExt counter of namespace ns's kernel (/proc/net/netstat)."""
    lines = [ln.split() for ln in ns.run("cat", "/proc/net/netstat").splitlines() if ln.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1]))[name])


@pytest.mark.parametrize("impl", IMPLS)
def test_asyncio_start_server_default_backlog_16_clients(binary, impl):
    srv = Server(impl, binary, os.path.join(PROGS, "asyncio_echo_server.py"), args=(7, 50, 17))
    try:
        _wait_port(srv, 7)
        res = [None] * 16
        go = threading.Barrier(16)

        def one(i):
            try:
                data = bytes((i + k) & 0xFF for k in range(4096))
                go.wait()
                c = srv.connect(7, 20)  # all at once: more than the backlog of 5
                c.sendall(data)
                got = b""
                while len(got) < len(data):
                    b = c.recv(8192)
                    if not b:
                        break
                    got += b
                c.close()
                res[i] = got == data
            except Exception as e:  # noqa: BLE001 -- reported below
                res[i] = repr(e)

        ts = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        if impl == "micropython" and res != [True] * 16:
            # The reference is Linux, which may reset here too: a client whose final
            # ACK met a full accept queue was answered with a syncookie, and its
            # next data segment fails the cookie check (tcp_v4_cookie_check) -> RST.
            # Allowed only when Linux counted exactly that.
            failed = _tcpext(srv.lk.tgt, "SyncookiesFailed")
            assert failed > 0 and all(r is True or "ConnectionReset" in r for r in res), (failed, res)
            return  # the reset clients never reach the server, which waits for 17: killed below
        else:
            assert res == [True] * 16, res
        st, out, err = srv.finish(40)
        assert st == 0 and "done" in out and "Traceback" not in err, (st, out, err[-2000:])
    finally:
        srv.kill()
        srv.delete()


def _curl(srv, *args):
    return subprocess.run(["ip", "netns", "exec", srv.lk.peer.name, "curl", "-sS", "--max-time", "60"]
                          + list(args), capture_output=True, timeout=90)


@pytest.mark.parametrize("impl", IMPLS)
def test_microdot_8_parallel_clients_1mib_stream_64kib_post(binary, impl, tmp_path):
    if not shutil.which("curl"):
        require_env(False, "curl not installed (firmware/deps.sh installs it)")
    lib = thirdparty.fetch("microdot")
    srv = Server(impl, binary, os.path.join(PROGS, "microdot_app.py"), args=(80,), path=[lib])
    base = "http://%s/" % srv.lk.tgt_ip
    try:
        _wait_port(srv, 80)
        ps = [subprocess.Popen(["ip", "netns", "exec", srv.lk.peer.name, "curl", "-sS", "--max-time", "60",
                                base], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
        outs = [p.communicate(timeout=90) for p in ps]
        assert [o for o, e in outs] == [b"hello from microdot\n"] * 8, outs
        r = _curl(srv, base + "big")
        assert r.returncode == 0 and r.stdout == bytes(range(256)) * 4 * 1024, (len(r.stdout), r.stderr)
        body = tmp_path / "body.bin"
        blob = bytes((i * 13) & 0xFF for i in range(65536))
        body.write_bytes(blob)
        r = _curl(srv, "-H", "Content-Type: application/octet-stream", "--data-binary", "@%s" % body,
                  base + "echo")
        assert r.returncode == 0 and r.stdout == blob, (len(r.stdout), r.stderr)
        _curl(srv, base + "shutdown")  # the app stops its server (the reply may be cut)
        st, out, err = srv.finish(30)
        assert st == 0 and "Traceback" not in err, (st, err[-2000:])
    finally:
        srv.kill()
        srv.delete()
