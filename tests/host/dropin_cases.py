# MicroPython program for test_dropin_differential.py: the socket API's values,
# types and errno over loopback, printed one line per case. Run once with the
# unix port's built-in socket (Linux) and once on ksock through the launcher;
# the two transcripts must be identical.
import errno
import socket
import select
import struct

ERR = {getattr(errno, n): n for n in dir(errno) if n.startswith("E")}


def case(name, f):
    try:
        r = f()
    except OSError as e:
        a = e.args[0]
        r = "OSError " + (ERR.get(a, str(a)) if isinstance(a, int) else a)
    except Exception as e:  # noqa: BLE001 - the type is part of the answer
        r = type(e).__name__
    print(name, r)


def port_kind(addr):
    p = socket.sockaddr(addr)[2]
    return "eph" if p >= 32768 else p


LO = socket.getaddrinfo("127.0.0.1", 9500)[0][-1]
LO2 = socket.getaddrinfo("127.0.0.1", 9501)[0][-1]
case("gai", lambda: socket.getaddrinfo("127.0.0.1", 80))
case("gai-str-port", lambda: socket.getaddrinfo("127.0.0.1", "80"))
case("gai-dgram", lambda: socket.getaddrinfo("0.0.0.0", 8000, 0, socket.SOCK_DGRAM))
case("gai-localhost", lambda: socket.getaddrinfo("localhost", 8000, socket.AF_INET, socket.SOCK_STREAM))
case("gai-name", lambda: socket.getaddrinfo("no.such.host.invalid", 80))
case("pton", lambda: socket.inet_pton(socket.AF_INET, "10.1.2.3"))
case("pton-bad", lambda: socket.inet_pton(socket.AF_INET, "10.1.2"))
case("ntop", lambda: socket.inet_ntop(socket.AF_INET, b"\x0a\x01\x02\x03"))
case("sockaddr", lambda: socket.sockaddr(LO))
case("consts", lambda: (socket.AF_INET, socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOL_SOCKET,
                        socket.SO_REUSEADDR, socket.SO_BROADCAST, socket.MSG_DONTWAIT))

# ---- UDP ----
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
case("u-type", lambda: type(u.fileno()).__name__)
case("u-bind", lambda: u.bind(LO))
case("u-bind-again", lambda: u.bind(LO2))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
case("v-bind-inuse", lambda: v.bind(LO))
case("v-sendto", lambda: v.sendto(b"hello", LO))
case("v-sendto-flags", lambda: v.sendto(b"world", 0, LO))
case("u-recvfrom", lambda: (lambda d, a: (d, port_kind(a), len(a), type(a).__name__))(*u.recvfrom(100)))
case("u-recv-peek", lambda: u.recv(3, socket.MSG_PEEK if hasattr(socket, "MSG_PEEK") else 2))
case("u-recv-short", lambda: u.recv(3))
case("u-recv-dontwait", lambda: u.recv(10, socket.MSG_DONTWAIT))
u.setblocking(False)
case("u-recv-nonblock", lambda: u.recv(10))
case("u-read-nonblock", lambda: u.read(10))
case("u-readinto-nonblock", lambda: u.readinto(bytearray(4)))
case("u-readline-nonblock", lambda: u.readline())
u.settimeout(0.2)
case("u-recv-timeout", lambda: u.recv(10))
case("u-read-timeout", lambda: u.read(10))
u.settimeout(None)
case("v-connect", lambda: v.connect(LO))
case("v-send", lambda: v.send(b"conn"))
case("v-write", lambda: v.write(b"wr"))
case("v-write-empty", lambda: v.write(b""))
case("u-read-2", lambda: (u.recv(10), u.recv(10)))
case("v-setsockopt-int", lambda: v.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1))
case("v-setsockopt-bytes", lambda: v.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, struct.pack("i", 0)))
case("v-setsockopt-bad", lambda: v.setsockopt(socket.SOL_SOCKET, 9999, 1))
p = select.poll()
p.register(u, select.POLLIN)
case("poll-empty", lambda: [ev for _, ev in p.poll(0)])
v.send(b"x")
case("poll-ready", lambda: [ev for _, ev in p.poll(1000)])
case("poll-out", lambda: (p.modify(u, select.POLLOUT), [ev for _, ev in p.poll(0)])[1])
u.recv(10)
u.close()
case("u-close-again", lambda: u.close())
case("u-recv-closed", lambda: u.recv(1))
v.close()

# ---- TCP ----
s = socket.socket()
case("s-setsockopt", lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
case("s-bind", lambda: s.bind(LO))
case("s-listen", lambda: s.listen())
s.settimeout(0.2)
case("s-accept-timeout", lambda: s.accept())
s.setblocking(False)
case("s-accept-nonblock", lambda: s.accept())
c = socket.socket()
c.setblocking(False)
case("c-connect-nonblock", lambda: c.connect(LO))
p = select.poll()
p.register(s, select.POLLIN)
case("s-poll", lambda: [ev for _, ev in p.poll(1000)])
s.setblocking(True)
n, a = s.accept()
case("accept-addr", lambda: (type(a).__name__, len(a), socket.sockaddr(a)[1], port_kind(a)))
c.setblocking(True)
case("c-connect-again", lambda: c.connect(LO))
case("c-send", lambda: c.send(b"line one\nline two\nrest"))
case("n-readline", lambda: n.readline())
case("n-read", lambda: n.read(4))
case("n-readinto", lambda: (lambda b: (n.readinto(b), bytes(b)))(bytearray(5)))
case("n-recv", lambda: n.recv(100))
case("c-write", lambda: c.write(b"abc"))
case("n-makefile", lambda: n.makefile("rb").read(3))
c.close()
case("n-recv-eof", lambda: n.recv(10))
case("n-read-eof", lambda: n.read())
n.close()
case("c2-refused", lambda: socket.socket().connect(LO2))
s.close()
