"""TLS on a target's own stack (issue 17): the firmware's ssl module over
ksock's drop-in socket, driven over the raw REPL, against openssl s_server in
the peer namespace -- the W5500-EVB-Pico image on rp2js, the W5500 model on
unix-w5500, the unix ports, a real board. The certificates come from
test_tls_openssl.py's test CA, handed to the board as DER bytes (a board has
no files), and the board's clock is set first, as a program would from NTP:
the RP2040's RTC starts in 2021, before the certificates' validity."""
import subprocess
import time

import pytest

from netstack import bring_up
from test_tls_openssl import PORT, pki, s_server  # noqa: F401 -- pki is a fixture

pytestmark = pytest.mark.targets("unix", "unix-nocmod", "unix-w5500", "rp2js", "serial")

CLIENT = """
import gc, ssl, sys
from ksock import socket as ksocket
if sys.platform == 'rp2':
    import machine
    machine.RTC().datetime(%(now)r)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cadata=%(ca)r)
ctx.verify_mode = ssl.CERT_REQUIRED
s = ksocket.socket()
s.connect((%(peer)r, %(port)d))
t = ctx.wrap_socket(s, server_hostname=%(sni)r)
print('cipher', *t.cipher())
n = 0
for i in range(%(chunks)d):
    n += t.write(bytes((i + k) & 0xFF for k in range(1024)))
got = b''
while len(got) < %(recv)d:
    b = t.read(%(recv)d - len(got))
    if not b:
        break
    got += b
print('sent', n, 'received', got)
t.close()
"""


def _der(pki, name):
    return subprocess.run(["openssl", "x509", "-in", pki(name), "-outform", "DER"], check=True,
                          capture_output=True).stdout


def _code(lk, pki, sni="peer.ksock.lan", chunks=8, recv=24):
    g = time.gmtime()
    return CLIENT % {"now": (g[0], g[1], g[2], 0, g[3], g[4], g[5], 0), "ca": _der(pki, "ca.pem"),
                     "peer": lk.peer_ip, "port": PORT, "sni": sni, "chunks": chunks, "recv": recv}


def _has_ssl(t):
    if not t.eval("__import__('sys').implementation.name == 'micropython' and "
                  "hasattr(__import__('ssl'), 'SSLContext')"):
        pytest.skip("this firmware has no ssl module")


def test_board_tls12_client_verifies_s_server_and_moves_data(netns_target, pki):
    t, lk = netns_target
    _has_ssl(t)
    bring_up(t, lk)
    ossl = s_server(lk, pki, extra=["-tls1_2"])
    try:
        ossl.send(b"server to board over TLS")
        out = t.exec(_code(lk, pki), timeout=240)
        ossl.wait_received(8 * 1024, 20)
    finally:
        ossl.stop()
    lines = out.splitlines()
    assert lines[0].startswith("cipher TLS-ECDHE-ECDSA-WITH-") and lines[0].endswith(" TLSv1.2"), out
    assert lines[1] == "sent 8192 received b'server to board over TLS'", out
    assert ossl.n == 8192


def test_board_tls_client_wrong_hostname_fails_with_cn_mismatch(netns_target, pki):
    t, lk = netns_target
    _has_ssl(t)
    bring_up(t, lk)
    ossl = s_server(lk, pki)
    try:
        out, err = t.exec_capture(_code(lk, pki, sni="wrong.ksock.lan"), timeout=240)
    finally:
        ossl.stop()
    assert "ValueError" in err and "does not match with the expected CN" in err, (out, err)
