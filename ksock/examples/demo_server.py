# `make run`'s demo: an ordinary MicroPython program (only the socket and select
# APIs) that ksock.run starts on ksock. It serves
#   UDP 7  echo                       (always)
#   TCP 7  echo, TCP 80  a small HTTP page with ksock's live socket table and
#          counters                   (once the stack has TCP: ksock.net.ipv4.tcp_ipv4)
#   TCP 443 the same page over TLS    (--https CERT KEY, where the firmware has ssl)
#
#   micropython -m ksock.run --iface veth0 --addr 10.0.0.2/24|dhcp demo_server.py [--max-ms MS]
#                            [--resolve NAME]    (look NAME up through DNS first and print it)
#                            [--https CERT KEY]  (certificate and key files, PEM or DER)
import sys
import socket
import select

ECHO_PORT = 7
HTTP_PORT = 80
HTTPS_PORT = 443


def proc_net(name):
    """The lines of /proc/net/NAME one by one (none when absent)."""
    try:
        from ksock import stack
        return stack.proc_net_lines(name)
    except (ImportError, OSError):
        return iter(())


def tcp_available():
    try:
        import ksock.net.ipv4.tcp_ipv4  # noqa: F401 (the stack registers TCP when present)
    except ImportError:
        return False
    return True


def page(served):
    """The page in pieces, sent one by one: a board's heap need not hold it whole."""
    yield "<html><head><title>ksock</title></head><body><h1>ksock</h1>\n"
    yield "<p>served: %s</p>\n" % ", ".join("%s %d" % kv for kv in sorted(served.items()))
    for name in ("tcp", "udp", "snmp", "dev", "arp"):
        first = True
        for line in proc_net(name):
            if first:
                yield "<h2>/proc/net/%s</h2><pre>" % name
                first = False
            yield line + "\n"
        if not first:
            yield "</pre>\n"
    yield "</body></html>\n"


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
    s.listen(8)
    s.setblocking(False)
    return s


def main(argv):
    max_ms = -1
    if "--max-ms" in argv:
        max_ms = int(argv[argv.index("--max-ms") + 1])
    if "--resolve" in argv:
        name = argv[argv.index("--resolve") + 1]
        try:
            a = socket.getaddrinfo(name, 80)[0][-1]
            if not isinstance(a, tuple):  # the unix port's raw sockaddr_in: family, port, address
                a = ("%d.%d.%d.%d" % tuple(a[4:8]), a[2] << 8 | a[3])
            print("demo: %s is %s" % (name, a))
        except OSError as e:
            print("demo: %s not resolved: %r" % (name, e))
    tls = None
    if "--https" in argv:
        i = argv.index("--https")
        try:
            import ssl
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(argv[i + 1], argv[i + 2])
        except ImportError:
            print("demo: no ssl module in this firmware: no HTTPS")
    served = {"udp-echo": 0, "tcp-echo": 0, "http": 0, "https": 0}
    poller = select.poll()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(socket.getaddrinfo("0.0.0.0", ECHO_PORT)[0][-1])
    poller.register(udp, select.POLLIN)
    roles = {udp: "udp"}
    if tcp_available():
        ports = [(ECHO_PORT, "echo-listen"), (HTTP_PORT, "http-listen")]
        if tls:
            ports.append((HTTPS_PORT, "https-listen"))
        for port, role in ports:
            s = listener(port)
            poller.register(s, select.POLLIN)
            roles[s] = role
    print("demo: UDP echo on %d%s%s" % (ECHO_PORT, "; TCP echo on %d, HTTP on %d" % (ECHO_PORT, HTTP_PORT)
                                      if len(roles) > 1 else "; TCP not in this stack yet",
                                      "; HTTPS on %d" % HTTPS_PORT if tls and len(roles) > 1 else ""))
    print("demo: ready")
    requests = {}
    import time
    t0 = time.ticks_ms()
    try:
        while max_ms < 0 or time.ticks_diff(time.ticks_ms(), t0) < max_ms:
            for s, ev in poller.poll(200):
                role = roles.get(s)
                if role == "udp":
                    data, addr = s.recvfrom(1500)
                    s.sendto(data, addr)
                    served["udp-echo"] += 1
                elif role in ("echo-listen", "http-listen", "https-listen"):
                    c, _ = s.accept()
                    c.setblocking(False)
                    if role == "https-listen":
                        # the handshake runs in the reads below, as poll says the client's flights came
                        c = tls.wrap_socket(c, server_side=True, do_handshake_on_connect=False)
                    poller.register(c, select.POLLIN)
                    roles[c] = role[:-7]
                    requests[c] = b""
                else:
                    if role == "https":
                        try:
                            data = s.read(1024) if ev & select.POLLIN else b""
                        except (OSError, ValueError) as e:  # a failed handshake: drop this client
                            print("demo: TLS client dropped: %r" % (e,))
                            data = b""
                        if data is None:  # the handshake (or a record) is not complete yet
                            continue
                    else:
                        data = s.recv(1024) if ev & select.POLLIN else b""
                    if role == "echo" and data:
                        s.setblocking(True)
                        s.sendall(data)
                        s.setblocking(False)
                        served["tcp-echo"] += 1
                        continue
                    if role in ("http", "https") and data:
                        requests[s] += data
                        if b"\r\n\r\n" not in requests[s]:
                            continue
                        served[role] += 1
                        s.setblocking(True)  # HTTP/1.0, Connection: close: the end of the body is the FIN
                        send = s.write if role == "https" else s.sendall
                        send(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
                        for part in page(served):
                            send(part.encode())
                    poller.unregister(s)
                    del roles[s], requests[s]
                    s.close()
    except KeyboardInterrupt:
        print("demo: interrupted")
    print("demo: served", served)
    for s in roles:
        s.close()


main(sys.argv[1:])
