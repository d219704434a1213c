"""Ordinary programs in ordinary setups (issue 14): one plain MicroPython
program (tests/host/programs/ordinary_server.py: non-blocking sockets and a
select.poll loop) serves seven ordinary checks from a Linux client on a veth as
`ip link add` makes it (the kernel's default offloads), at the interpreter's
default heap. The same program on CPython over the Linux kernel, in the same
namespaces, is the reference: each check runs against both."""
import hashlib
import os
import socket
import threading
import time

import pytest

from hil.plugin import require_env
from hil.targets import BUILD
from launch import Server

pytestmark = pytest.mark.targets("unix", "unix-nocmod")
HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "programs", "ordinary_server.py")
PAT = bytes(range(256)) * 16


@pytest.fixture(params=["cpython", "ksock"])
def server(request, netns_ok, target_name):
    """The server program, up; on the way out it is asked to quit (TCP 99) and
    must exit 0 with no traceback (a MemoryError in the program fails the test)."""
    require_env(*netns_ok)
    s = Server(request.param, os.path.join(BUILD, target_name, "micropython"), SERVER)
    try:
        yield s
        try:
            s.connect(99, 10).close()
        finally:
            st, out, err = s.finish(20)
        assert st == 0 and "Traceback" not in err, (st, err[-2000:])
    finally:
        s.kill()
        s.delete()


def test_ordinary_ping_answered(server):
    lk = server.lk
    out = lk.peer.run("ping", "-c", "5", "-i", "0.2", "-W", "2", lk.tgt_ip, check=False)
    assert " 0% packet loss" in out, out


def test_ordinary_udp_echo_up_to_1472_bytes(server):
    with server.lk.peer.entered():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(1)
    try:
        for n in (0, 1, 100, 1000, 1472):
            payload = bytes((i * 7 + n) & 0xFF for i in range(n))
            for attempt in range(5):
                c.sendto(payload, (server.lk.tgt_ip, 7))
                try:
                    data, _ = c.recvfrom(2048)
                    break
                except socket.timeout:
                    continue
            else:
                raise AssertionError("no echo of %d bytes" % n)
            assert data == payload
    finally:
        c.close()


def _echo(server, nbytes, chunk=16384):
    """Send nbytes on one connection while reading the echo; True if intact."""
    c = server.connect(7, 60)
    data = bytes((i * 31) & 0xFF for i in range(nbytes))
    got = bytearray()

    def writer():
        for off in range(0, nbytes, chunk):
            c.sendall(data[off:off + chunk])

    t = threading.Thread(target=writer)
    t.start()
    while len(got) < nbytes:
        b = c.recv(65536)
        if not b:
            break
        got += b
    t.join()
    c.close()
    return bytes(got) == data


def test_ordinary_tcp_echo_1mib(server):
    assert _echo(server, 1 << 20)


@pytest.mark.parametrize("n", [32, 64])
def test_ordinary_tcp_echo_concurrent_connections(server, n):
    res = [None] * n

    def one(i):
        try:
            res[i] = _echo(server, 16384, 4096)
        except Exception as e:  # noqa: BLE001 -- reported below
            res[i] = repr(e)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert res == [True] * n, res


def test_ordinary_refused_port_econnrefused(server):
    with pytest.raises(ConnectionRefusedError):
        server.connect(8, 10)


def test_ordinary_bulk_receive_10mib_intact(server):
    n = 10 << 20
    c = server.connect(19, 60)
    c.sendall(b"%d\n" % n)
    h = hashlib.sha256()
    got = 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        got += len(b)
    c.close()
    want = hashlib.sha256(PAT * (n // len(PAT))).hexdigest()
    assert got == n and h.hexdigest() == want


def test_ordinary_accept_200_sequential_connections(server):
    t0 = time.monotonic()
    for i in range(200):
        c = server.connect(13, 10)
        assert c.recv(16) == b"ok\n"
        c.close()
    print("accept rate %.0f/s" % (200 / (time.monotonic() - t0)))
