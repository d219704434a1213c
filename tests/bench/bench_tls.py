# bench: net targets=unix,unix-nocmod,rp2js peer=tls
# TLS 1.2 client (MicroPython's ssl over ksock's drop-in socket) against
# openssl s_server -www in the peer namespace (tests/bench/run.py:tls_peer):
#   heap held by an SSLContext with one CA loaded, by an established SSLSocket
#   (both after gc.collect()), the largest free block left meanwhile, and the
#   handshake time (ECDHE-ECDSA P-256, certificate and name verified).
# On boards mbedtls allocates from the GC heap (MICROPY_TRACKED_ALLOC), so the
# figures are the whole cost; the unix port's mbedtls uses libc malloc and its
# figures are only the Python objects' share.
import gc
import json
import ssl
import sys
import time
from ksock import stack
from ksock import socket as ksocket

stack.init()
if IFACE == "lan9118":  # noqa: F821 (defined by run.py)
    from ksock.drivers.lan9118 import Lan9118
    stack.add_dev(Lan9118("eth0"))
elif IFACE.startswith("board:"):  # noqa: F821 -- the board's NIC as wired (rp2js: W5500 on SPI0)
    from ksock import board as _b
    stack.add_dev(_b.make_nic(_b.load(IFACE[6:]), "eth0"))  # noqa: F821
else:
    stack.add_packet_dev(IFACE, "eth0")  # noqa: F821
stack.ip_addr_add("eth0", TGT_IP + "/24")  # noqa: F821
if sys.platform == "rp2":  # certificate dates are checked against the RTC, which starts in 2021
    import machine
    y, mo, d, h, mi, sec = NOW  # noqa: F821 (run.py: the host's UTC time)
    machine.RTC().datetime((y, mo, d, 0, h, mi, sec, 0))


def bench(name, value, unit):
    print("BENCH " + json.dumps({"name": name, "value": value, "unit": unit}))


def largest_free():
    """Biggest block the GC heap can still give, by bisection (MemoryError is the answer)."""
    lo, hi = 0, gc.mem_free()
    while hi - lo > 256:
        mid = (lo + hi) // 2
        try:
            b = bytearray(mid)
            del b
            lo = mid
        except MemoryError:
            hi = mid
    return lo


def connect():
    for _ in range(50):  # s_server may still be starting
        s = ksocket.socket()
        try:
            s.connect((PEER_IP, 4433))  # noqa: F821
            return s
        except OSError:
            s.close()
            stack.serve(100)
    raise OSError(111)


gc.collect()
f0 = gc.mem_free()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cadata=CA_DER)  # noqa: F821
ctx.verify_mode = ssl.CERT_REQUIRED
gc.collect()
f1 = gc.mem_free()
s = connect()
gc.collect()
f2 = gc.mem_free()
t0 = time.ticks_ms()
t = ctx.wrap_socket(s, server_hostname="peer.ksock.lan")
t1 = time.ticks_ms()
gc.collect()
f3 = gc.mem_free()
big = largest_free()
t.write(b"GET / HTTP/1.0\r\n\r\n")
page = b""
while not page.endswith(b"</HTML>\r\n\r\n"):  # s_server then waits for our close
    b = t.read(1)
    if not b:
        break
    page = page[-16:] + b
t.close()
del t, s
gc.collect()
f4 = gc.mem_free()
assert page.endswith(b"</HTML>\r\n\r\n"), page
bench("tls_context_heap", f0 - f1, "bytes")
bench("tls_session_heap", f2 - f3, "bytes")
bench("tls_session_largest_free_block", big, "bytes")
bench("tls12_ecdhe_ecdsa_handshake", time.ticks_diff(t1, t0), "ms")
del ctx
