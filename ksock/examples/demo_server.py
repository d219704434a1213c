# `make run`'s demo: an ordinary MicroPython program (only the socket and select
# APIs) that ksock.run starts on ksock. It serves
#   UDP 7  echo                       (always)
#   TCP 7  echo, TCP 80  a small HTTP page with ksock's live socket table and
#          counters                   (once the stack has TCP: ksock.net.ipv4.tcp_ipv4)
#
#   micropython -m ksock.run --iface veth0 --addr 10.0.0.2/24 demo_server.py [--max-ms MS]
import sys
import socket
import select

ECHO_PORT = 7
HTTP_PORT = 80


def proc_net(name):
    try:
        from ksock import stack
        return stack.proc_net(name)
    except (ImportError, OSError):
        return ""


def tcp_available():
    try:
        import ksock.net.ipv4.tcp_ipv4  # noqa: F401 (the stack registers TCP when present)
    except ImportError:
        return False
    return True


def page(served):
    body = "<html><head><title>ksock</title></head><body><h1>ksock</h1>\n"
    body += "<p>served: %s</p>\n" % ", ".join("%s %d" % kv for kv in sorted(served.items()))
    for name in ("tcp", "udp", "snmp", "dev", "arp"):
        t = proc_net(name)
        if t:
            body += "<h2>/proc/net/%s</h2><pre>%s</pre>\n" % (name, t)
    return body + "</body></html>\n"


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
    served = {"udp-echo": 0, "tcp-echo": 0, "http": 0}
    poller = select.poll()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(socket.getaddrinfo("0.0.0.0", ECHO_PORT)[0][-1])
    poller.register(udp, select.POLLIN)
    roles = {udp: "udp"}
    if tcp_available():
        for port, role in ((ECHO_PORT, "echo-listen"), (HTTP_PORT, "http-listen")):
            s = listener(port)
            poller.register(s, select.POLLIN)
            roles[s] = role
    print("demo: UDP echo on %d%s" % (ECHO_PORT, "; TCP echo on %d, HTTP on %d" % (ECHO_PORT, HTTP_PORT)
                                    if len(roles) > 1 else "; TCP not in this stack yet"))
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
                elif role in ("echo-listen", "http-listen"):
                    c, _ = s.accept()
                    c.setblocking(False)
                    poller.register(c, select.POLLIN)
                    roles[c] = "echo" if role == "echo-listen" else "http"
                    requests[c] = b""
                else:
                    data = s.recv(1024) if ev & select.POLLIN else b""
                    if role == "echo" and data:
                        s.setblocking(True)
                        s.sendall(data)
                        s.setblocking(False)
                        served["tcp-echo"] += 1
                        continue
                    if role == "http" and data:
                        requests[s] += data
                        if b"\r\n\r\n" not in requests[s]:
                            continue
                        served["http"] += 1
                        body = page(served).encode()
                        s.setblocking(True)
                        s.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                                  b"Connection: close\r\n\r\n" % len(body))
                        s.sendall(body)
                    poller.unregister(s)
                    del roles[s], requests[s]
                    s.close()
    except KeyboardInterrupt:
        print("demo: interrupted")
    print("demo: served", served)
    for s in roles:
        s.close()


main(sys.argv[1:])
