# An ordinary MicroPython network program, written the way such programs are:
# non-blocking sockets and one select.poll loop, no ksock API. It runs
# unchanged on CPython over the Linux kernel (the reference) and on ksock
# through `micropython -m ksock.run`.
#   UDP 7 echo | TCP 7 echo | TCP 19: "N\n" -> N pattern bytes | TCP 13: "ok\n", close
#   TCP 99: quit (exit 0)
import errno
import select
import socket
import sys

EAGAIN = (errno.EAGAIN, getattr(errno, "EWOULDBLOCK", errno.EAGAIN))
PAT = bytes(range(256)) * 16  # 4 KiB of the pattern the bulk client checks


def listener(port, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    s.setblocking(False)
    return s


udp = listener(7, socket.SOCK_DGRAM)
lst = {listener(7): "echo", listener(19): "bulk", listener(13): "hello", listener(99): "quit"}
conns = {}  # sock -> [kind, pending out bytes, bytes still to generate]
poller = select.poll()
fdmap = {}


def reg(s, mask):
    fdmap[s.fileno()] = s
    poller.register(s, mask)


reg(udp, select.POLLIN)
for s in lst:
    reg(s, select.POLLIN)


def drop(c):
    poller.unregister(c)
    fdmap.pop(c.fileno(), None)
    del conns[c]
    c.close()


def flush(c, st):
    """Send what is pending (and, for bulk, what is still to generate)."""
    while True:
        if not st[1] and st[2] > 0:
            k = min(st[2], len(PAT))
            st[1] = PAT[:k]
            st[2] -= k
        if not st[1]:
            break
        try:
            n = c.send(st[1])
        except OSError as e:
            if e.args[0] in EAGAIN:
                break
            drop(c)
            return
        st[1] = st[1][n:]
    if st[0] == "bulk" and not st[1] and st[2] == 0 and st[3]:
        drop(c)  # all sent: close (FIN after the data)
        return
    poller.modify(c, select.POLLIN | (select.POLLOUT if st[1] or st[2] > 0 else 0))


print("ready")
try:
    sys.stdout.flush()
except AttributeError:
    pass
running = True
while running:
    for ev in poller.poll(1000):
        s = ev[0]
        if isinstance(s, int):
            s = fdmap[s]
        if s is udp:
            try:
                data, addr = udp.recvfrom(2048)
                udp.sendto(data, addr)
            except OSError as e:
                if e.args[0] not in EAGAIN:
                    raise
        elif s in lst:
            try:
                c, _ = s.accept()
            except OSError as e:
                if e.args[0] in EAGAIN:
                    continue
                raise
            kind = lst[s]
            if kind == "quit":
                c.close()
                running = False
                break
            if kind == "hello":
                c.send(b"ok\n")
                c.close()
                continue
            c.setblocking(False)
            conns[c] = [kind, b"", 0, False]
            reg(c, select.POLLIN)
        elif s in conns:
            st = conns[s]
            if ev[1] & select.POLLIN or ev[1] & (select.POLLHUP | select.POLLERR):
                try:
                    data = s.recv(4096)
                except OSError as e:
                    if e.args[0] in EAGAIN:
                        data = None
                    else:
                        drop(s)
                        continue
                if data == b"":
                    drop(s)  # peer closed
                    continue
                if data:
                    if st[0] == "echo":
                        st[1] += data
                    elif not st[3]:  # bulk: the request line
                        st[2] = int(data.split(b"\n")[0])
                        st[3] = True
            if s in conns:
                flush(s, st)
for s in list(conns):
    drop(s)
for s in lst:
    s.close()
udp.close()
print("done")
