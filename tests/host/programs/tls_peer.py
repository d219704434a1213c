# A TLS program as MicroPython's docs write one (ssl.SSLContext over a socket),
# for tests/host/test_tls_openssl.py; under `micropython -m ksock.run` its
# sockets are ksock's. One line per result on stdout.
#
#   tls_peer.py client IP PORT CA SNI NSEND NRECV     blocking client: send NSEND, read NRECV
#   tls_peer.py nbclient IP PORT CA SNI NSEND NRECV   the same, non-blocking, driven by select.poll
#   tls_peer.py server PORT CERT KEY NSEND NRECV [CA] one TLS client (CA: require its certificate)
#   tls_peer.py aclient IP PORT CA SNI NSEND NRECV    asyncio.open_connection(ssl=ctx)
#   tls_peer.py aserver PORT CERT KEY                 asyncio.start_server(ssl=ctx): one line echoed back
#
# Data is a counting pattern (byte i is i*7 % 251), so what arrives is checked
# byte by byte without holding the whole of it.
import sys
import select
import socket
import ssl

CHUNK = 4096


def pattern(off, n):
    return bytes((i * 7) % 251 for i in range(off, off + n))


class Check:
    """Counts received bytes and checks them against the pattern."""

    def __init__(self):
        self.n = 0
        self.bad = -1

    def feed(self, b):
        if self.bad < 0 and b != pattern(self.n, len(b)):
            for i in range(len(b)):
                if b[i] != (self.n + i) * 7 % 251:
                    self.bad = self.n + i
                    break
        self.n += len(b)


def load(path):
    with open(path, "rb") as f:
        return f.read()


def client_ctx(ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=load(ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def connect(ip, port):
    s = socket.socket()
    s.connect(socket.getaddrinfo(ip, port)[0][-1])
    return s


def exchange(s, nsend, nrecv):
    """Blocking: write all, then read until nrecv bytes or EOF."""
    off = 0
    while off < nsend:
        k = min(CHUNK, nsend - off)
        s.write(pattern(off, k))
        off += k
    print("sent", off)
    chk = Check()
    while chk.n < nrecv:
        b = s.read(min(CHUNK, nrecv - chk.n))
        if not b:
            break
        chk.feed(b)
    print("received", chk.n, "bad", chk.bad)


def report(s):
    c = s.cipher()
    print("cipher", c[0], c[1])


def client(ip, port, ca, sni, nsend, nrecv):
    s = connect(ip, int(port))
    try:
        t = client_ctx(ca).wrap_socket(s, server_hostname=sni)
    except Exception as e:
        print("handshake failed", type(e).__name__, repr(e.args))
        s.close()
        return
    report(t)
    exchange(t, int(nsend), int(nrecv))
    t.close()
    print("closed")


def nbclient(ip, port, ca, sni, nsend, nrecv):
    """do_handshake_on_connect=False on a non-blocking socket: the handshake
    runs inside write/read, which answer None until it can go on; poll on the
    SSLSocket says when (it asks the ksock socket underneath)."""
    nsend, nrecv = int(nsend), int(nrecv)
    s = connect(ip, int(port))
    s.setblocking(False)
    t = client_ctx(ca).wrap_socket(s, server_hostname=sni, do_handshake_on_connect=False)
    p = select.poll()
    p.register(t, select.POLLIN | select.POLLOUT)
    off, chk, waits, none = 0, Check(), 0, 0
    shown = False
    while off < nsend or chk.n < nrecv:
        ev = p.poll(10000)
        waits += 1
        if not ev:
            print("poll timed out")
            break
        if off < nsend:
            k = min(CHUNK, nsend - off)
            n = t.write(pattern(off, k))
            if n is None:
                none += 1
            else:
                off += n
        if chk.n < nrecv:
            b = t.read(CHUNK)
            if b is None:
                none += 1
            elif not b:
                break
            else:
                chk.feed(b)
        if not shown and (off or chk.n):
            report(t)
            shown = True
        if off >= nsend:
            p.modify(t, select.POLLIN)
    print("nonblocking polls", waits > 1, "would-block answers", none > 0)
    print("sent", off)
    print("received", chk.n, "bad", chk.bad)
    t.close()
    print("closed")


def server(port, cert, key, nsend, nrecv, ca=None):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(socket.getaddrinfo("0.0.0.0", int(port))[0][-1])
    ls.listen(1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(load(cert), load(key))
    if ca:
        ctx.load_verify_locations(cadata=load(ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    print("ready")
    s, _ = ls.accept()
    try:
        t = ctx.wrap_socket(s, server_side=True)
    except Exception as e:
        print("handshake failed", type(e).__name__, repr(e.args))
        s.close()
        ls.close()
        return
    report(t)
    nsend, nrecv = int(nsend), int(nrecv)
    chk = Check()  # read first: s_client sends its stdin, then waits for ours
    while chk.n < nrecv:
        b = t.read(min(CHUNK, nrecv - chk.n))
        if not b:
            break
        chk.feed(b)
    print("received", chk.n, "bad", chk.bad)
    off = 0
    while off < nsend:
        k = min(CHUNK, nsend - off)
        t.write(pattern(off, k))
        off += k
    print("sent", off)
    t.close()
    ls.close()
    print("closed")


def aclient(ip, port, ca, sni, nsend, nrecv):
    import asyncio

    async def main():
        r, w = await asyncio.open_connection(ip, int(port), ssl=client_ctx(ca), server_hostname=sni)
        off, n = 0, int(nsend)
        while off < n:
            k = min(CHUNK, n - off)
            w.write(pattern(off, k))
            await w.drain()
            off += k
        print("sent", off)
        chk = Check()
        while chk.n < int(nrecv):
            b = await r.read(CHUNK)
            if not b:
                break
            chk.feed(b)
        print("received", chk.n, "bad", chk.bad)
        w.close()
        await w.wait_closed()
        print("closed")

    asyncio.run(main())


def aserver(port, cert, key):
    import asyncio

    done = asyncio.Event()

    async def handle(r, w):
        line = await r.readline()
        w.write(b"echo " + line)
        await w.drain()
        w.close()
        await w.wait_closed()
        done.set()

    async def main():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(load(cert), load(key))
        srv = await asyncio.start_server(handle, "0.0.0.0", int(port), ssl=ctx)
        print("ready")
        await done.wait()
        srv.close()
        await srv.wait_closed()
        print("closed")

    asyncio.run(main())


{"client": client, "nbclient": nbclient, "server": server, "aclient": aclient,
 "aserver": aserver}[sys.argv[1]](*sys.argv[2:])
