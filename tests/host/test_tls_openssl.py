"""TLS over ksock (issue 17): MicroPython's ssl/tls module (mbedtls) wrapping
ksock's drop-in sockets, against OpenSSL's s_server and s_client in the peer
namespace, with a test CA and certificates made at test time by the openssl
CLI. Each case runs tests/host/programs/tls_peer.py on ksock (`micropython -m
ksock.run`) and, as the reference, on the same interpreter's own socket over
the Linux kernel; both must give the same results.

MicroPython 1.25's mbedtls configuration (extmod/mbedtls/mbedtls_config_common.h)
has TLS 1.2 only (no MBEDTLS_SSL_PROTO_TLS1_3): against a server offering 1.2
and 1.3 it settles on 1.2, and a 1.3-only server refuses it (checked below)."""
import os
import shutil
import subprocess
import threading
import time

import pytest

from hil.plugin import require_env
from hil.targets import BUILD
from launch import Server

pytestmark = pytest.mark.targets("unix", "unix-nocmod")
PROG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "tls_peer.py")
IMPLS = ["micropython", "ksock"]
PORT = 4433
MIB = 1 << 20
_BASE = bytes((i * 7) % 251 for i in range(251))  # tls_peer.py's pattern: byte i is i*7 % 251


def pattern(off, n):
    k = off % 251
    reps = (k + n) // 251 + 1
    return (_BASE * reps)[k:k + n]


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def _cert(d, name, ca, cn, key="ec"):
    """name.key + name.pem for `cn` (also its subjectAltName), signed by ca."""
    kopt = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" else ["-newkey", "rsa:2048"]
    _openssl("req", *kopt, "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=DNS:%s\n" % cn)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
             "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA with certificates for peer.ksock.lan (EC and RSA), other.ksock.lan,
    ksock.lan (the board as a server) and a client; a second CA nobody trusts
    that signs its own peer.ksock.lan."""
    if not shutil.which("openssl"):
        require_env(False, "openssl not installed (firmware/deps.sh installs it)")
    d = str(tmp_path_factory.mktemp("pki"))
    for ca, cn in (("ca", "ksock test CA"), ("rogue", "unknown test CA")):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj", "/CN=" + cn, cwd=d)
    _cert(d, "peer", "ca", "peer.ksock.lan")
    _cert(d, "peer-rsa", "ca", "peer.ksock.lan", key="rsa")
    _cert(d, "other", "ca", "other.ksock.lan")
    _cert(d, "board", "ca", "ksock.lan")
    _cert(d, "client", "ca", "client.ksock.lan")
    _cert(d, "rogue-peer", "rogue", "peer.ksock.lan")
    return lambda n: os.path.join(d, n)


@pytest.fixture
def binary(netns_ok, target_name):
    require_env(*netns_ok)
    return os.path.join(BUILD, target_name, "micropython")


class OpenSSL:
    """`openssl ARGS` in a namespace, with stdin fed the pattern and stdout
    counted and checked against it by threads (it prints nothing else: -quiet)."""

    def __init__(self, ns, args):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns.name, "openssl"] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.n = 0
        self.bad = -1
        self.first = b""
        self.err = b""
        self._r = threading.Thread(target=self._read, daemon=True)
        self._r.start()
        self._e = threading.Thread(target=self._stderr, daemon=True)
        self._e.start()

    def _read(self):
        while True:
            b = self.p.stdout.read1(65536)
            if not b:
                return
            if len(self.first) < 256:
                self.first += b[:256]
            if self.bad < 0 and b != pattern(self.n, len(b)):
                self.bad = self.n + next(i for i in range(len(b)) if b[i] != pattern(self.n + i, 1)[0])
            self.n += len(b)

    def _stderr(self):
        self.err = self.p.stderr.read()

    def send(self, data):
        def w():
            try:
                self.p.stdin.write(data)
                self.p.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
        threading.Thread(target=w, daemon=True).start()

    def wait_received(self, n, timeout=60):
        end = time.monotonic() + timeout
        while self.n < n and self.p.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        return self.n

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self._r.join(5)
        self._e.join(5)


def _listening(ns, port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ns.run("ss", "-Hltn", "sport = :%d" % port).strip():
            return
        time.sleep(0.05)
    raise AssertionError("openssl s_server did not listen on %d" % port)


def s_server(lk, pki, cert="peer", extra=()):
    args = ["s_server", "-accept", "%s:%d" % (lk.peer_ip, PORT), "-cert", pki(cert + ".pem"),
            "-key", pki(cert + ".key"), "-naccept", "1", "-quiet"] + list(extra)
    o = OpenSSL(lk.peer, args)
    _listening(lk.peer, PORT)
    return o


def run_client(binary, impl, pki, mode="client", sni="peer.ksock.lan", nsend=16, nrecv=0, cert="peer",
               extra=(), peer_sends=0, sequential=True, ca="ca"):
    """tls_peer.py `mode` against s_server; s_server sends `peer_sends` bytes
    (after it has read all `nsend`, when `sequential`). (output lines, s_server)."""
    srv = Server(impl, binary, PROG, start=False)
    lk = srv.lk
    ossl = None
    try:
        ossl = s_server(lk, pki, cert, extra)
        if peer_sends and not sequential:
            ossl.send(pattern(0, peer_sends))
        srv.start([mode, lk.peer_ip, PORT, pki(ca + ".pem"), sni, nsend, nrecv], ready=None)
        if peer_sends and sequential:
            ossl.wait_received(nsend)
            ossl.send(pattern(0, peer_sends))
        st, out, err = srv.finish(180)
        assert st == 0 and "Traceback" not in err, (st, out, err[-3000:])
        ossl.wait_received(nsend, 10)
        return out.splitlines(), ossl
    finally:
        if ossl:
            ossl.stop()
        srv.kill()
        srv.delete()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("key", ["ec", "rsa"])
def test_client_tls12_handshake_verified_against_s_server(binary, impl, pki, key):
    cert = "peer" if key == "ec" else "peer-rsa"
    out, ossl = run_client(binary, impl, pki, cert=cert, nsend=16, nrecv=16, peer_sends=16, extra=["-tls1_2"])
    kx = "ECDSA" if key == "ec" else "RSA"
    assert out[0].startswith("cipher TLS-ECDHE-%s-WITH-" % kx) and out[0].endswith(" TLSv1.2"), out
    assert out[1:] == ["sent 16", "received 16 bad -1", "closed"], out
    assert (ossl.n, ossl.bad) == (16, -1)


@pytest.mark.parametrize("impl", IMPLS)
def test_client_sni_picks_the_certificate_whose_name_is_checked(binary, impl, pki):
    # s_server's default certificate is other.ksock.lan; only a ClientHello
    # naming peer.ksock.lan (SNI) gets peer.ksock.lan's, which the hostname check needs
    extra = ["-servername", "peer.ksock.lan", "-cert2", pki("peer.pem"), "-key2", pki("peer.key")]
    out, _ = run_client(binary, impl, pki, cert="other", extra=extra)
    assert out[0].startswith("cipher ") and out[-2:] == ["received 0 bad -1", "closed"], out


@pytest.mark.parametrize("impl", IMPLS)
def test_client_s_server_offering_tls13_and_tls12_settles_on_tls12(binary, impl, pki):
    out, _ = run_client(binary, impl, pki, nsend=16, nrecv=16, peer_sends=16)
    assert out[0].startswith("cipher ") and out[0].endswith(" TLSv1.2"), out
    assert out[1:] == ["sent 16", "received 16 bad -1", "closed"], out


@pytest.mark.parametrize("impl", IMPLS)
def test_client_tls13_only_s_server_fails_with_protocol_alert(binary, impl, pki):
    out, ossl = run_client(binary, impl, pki, extra=["-tls1_3"])
    # s_server answers the 1.2-only ClientHello with a protocol_version alert
    assert out == ["handshake failed OSError (-30592, 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE')"], out
    assert b"unsupported protocol" in ossl.err, ossl.err


@pytest.mark.parametrize("impl", IMPLS)
def test_client_wrong_hostname_fails_with_cn_mismatch(binary, impl, pki):
    out, _ = run_client(binary, impl, pki, sni="wrong.ksock.lan")
    assert out == ["handshake failed ValueError "
                   "('\\nThe certificate Common Name (CN) does not match with the expected CN\\n',)"], out


@pytest.mark.parametrize("impl", IMPLS)
def test_client_unknown_ca_fails_as_not_signed_by_trusted_ca(binary, impl, pki):
    out, _ = run_client(binary, impl, pki, cert="rogue-peer")
    assert out == ["handshake failed ValueError ('\\nThe certificate is not correctly signed by the trusted CA\\n',)"], out


@pytest.mark.parametrize("impl", IMPLS)
def test_client_1mib_each_way_intact_with_s_server(binary, impl, pki):
    out, ossl = run_client(binary, impl, pki, nsend=MIB, nrecv=MIB, peer_sends=MIB)
    assert out[1:] == ["sent %d" % MIB, "received %d bad -1" % MIB, "closed"], out
    assert (ossl.n, ossl.bad) == (MIB, -1)


@pytest.mark.parametrize("impl", IMPLS)
def test_client_nonblocking_handshake_and_1mib_each_way_driven_by_poll(binary, impl, pki):
    # both directions at once (s_server sends as soon as it can): only poll says
    # when the handshake, and then each direction, can go on
    out, ossl = run_client(binary, impl, pki, mode="nbclient", nsend=MIB, nrecv=MIB, peer_sends=MIB,
                           sequential=False)
    assert out[0].startswith("cipher ") and out[0].endswith(" TLSv1.2"), out
    assert out[1:] == ["nonblocking polls True would-block answers True", "sent %d" % MIB,
                       "received %d bad -1" % MIB, "closed"], out
    assert (ossl.n, ossl.bad) == (MIB, -1)


@pytest.mark.parametrize("impl", IMPLS)
def test_client_asyncio_open_connection_ssl_256k_each_way(binary, impl, pki):
    n = 256 * 1024
    out, ossl = run_client(binary, impl, pki, mode="aclient", nsend=n, nrecv=n, peer_sends=n)
    assert out == ["sent %d" % n, "received %d bad -1" % n, "closed"], out
    assert (ossl.n, ossl.bad) == (n, -1)


def s_client(lk, pki, extra=()):
    args = ["s_client", "-connect", "%s:%d" % (lk.tgt_ip, PORT), "-servername", "ksock.lan",
            "-verify_hostname", "ksock.lan", "-CAfile", pki("ca.pem"), "-verify_return_error", "-quiet"]
    return OpenSSL(lk.peer, args + list(extra))


def run_server(binary, impl, pki, mode="server", args=(), extra=(), client_sends=0, wait_for=0):
    """tls_peer.py `mode` as the TLS server, s_client connecting from the peer
    namespace and sending `client_sends` bytes. (output lines, s_client)."""
    srv = Server(impl, binary, PROG, start=False)
    ossl = None
    try:
        srv.start([mode, PORT, pki("board.pem"), pki("board.key")] + list(args))
        ossl = s_client(srv.lk, pki, extra)
        if client_sends:
            ossl.send(client_sends if isinstance(client_sends, bytes) else pattern(0, client_sends))
        st, out, err = srv.finish(180)
        assert st == 0 and "Traceback" not in err, (st, out, err[-3000:])
        ossl.wait_received(wait_for, 20)
        return out.splitlines(), ossl
    finally:
        if ossl:
            ossl.stop()
        srv.kill()
        srv.delete()


@pytest.mark.parametrize("impl", IMPLS)
def test_server_1mib_each_way_with_s_client_verifying_its_name(binary, impl, pki):
    out, ossl = run_server(binary, impl, pki, args=[MIB, MIB], client_sends=MIB, wait_for=MIB)
    assert out[0].startswith("cipher ") and out[0].endswith(" TLSv1.2"), out
    assert out[1:] == ["received %d bad -1" % MIB, "sent %d" % MIB, "closed"], out
    assert (ossl.n, ossl.bad) == (MIB, -1), ossl.err[-2000:]
    assert b"verify error" not in ossl.err, ossl.err


@pytest.mark.parametrize("impl", IMPLS)
def test_server_requiring_client_certificate_accepts_s_client_with_one(binary, impl, pki):
    out, ossl = run_server(binary, impl, pki, args=[16, 16, pki("ca.pem")], client_sends=16, wait_for=16,
                           extra=["-cert", pki("client.pem"), "-key", pki("client.key")])
    assert out[1:] == ["received 16 bad -1", "sent 16", "closed"], out
    assert (ossl.n, ossl.bad) == (16, -1)


@pytest.mark.parametrize("impl", IMPLS)
def test_server_requiring_client_certificate_refuses_s_client_without_one(binary, impl, pki):
    out, ossl = run_server(binary, impl, pki, args=[16, 16, pki("ca.pem")], client_sends=16)
    assert len(out) == 1 and out[0].startswith("handshake failed OSError (-"), out
    assert "CERTIFICATE" in out[0], out
    assert ossl.n == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_server_asyncio_start_server_ssl_echoes_a_line_to_s_client(binary, impl, pki):
    out, ossl = run_server(binary, impl, pki, mode="aserver", client_sends=b"hello over TLS\n", wait_for=20)
    assert out == ["closed"], out
    assert ossl.first == b"echo hello over TLS\n", (ossl.first, ossl.err[-2000:])
