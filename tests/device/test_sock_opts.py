# net/core/sock.c, net/ipv4/tcp.c and ip_sockglue.c options on the target.
import struct
from ksock import sys as K

EINVAL, ENOPROTOOPT, EDOM = 22, 92, 33


def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def fresh(type=1):
    K.close_range(3)
    return K.socket(2, type)


def test_sock_setsockopt_rcvbuf_doubles_and_clamps():
    fd = fresh()
    K.setsockopt(fd, 1, 8, 3000)
    assert K.getsockopt(fd, 1, 8) == 6000
    K.setsockopt(fd, 1, 8, 1)
    assert K.getsockopt(fd, 1, 8) == 2304
    K.setsockopt(fd, 1, 8, 1 << 30)
    assert K.getsockopt(fd, 1, 8) == 2 * K.sysctl("net.core.rmem_max")


def test_sock_setsockopt_sndbuf_minimum():
    fd = fresh(2)
    K.setsockopt(fd, 1, 7, 0)
    assert K.getsockopt(fd, 1, 7) == 4608


def test_sock_setsockopt_short_optlen_einval():
    fd = fresh()
    assert err(K.setsockopt, fd, 1, 2, b"\x01") == EINVAL
    assert err(K.setsockopt, fd, 1, 13, 1) == EINVAL  # SO_LINGER needs 8 bytes


def test_sock_setsockopt_readonly_enoprotoopt():
    fd = fresh()
    for opt in (3, 4, 30, 38, 39, 999):
        assert err(K.setsockopt, fd, 1, opt, 1) == ENOPROTOOPT


def test_sock_getsockopt_linger_and_timeouts():
    fd = fresh()
    K.setsockopt(fd, 1, 13, struct.pack("<ii", 1, 9))
    assert struct.unpack("<ii", K.getsockopt(fd, 1, 13, 8)) == (1, 9)
    K.setsockopt(fd, 1, 20, struct.pack("<qq", 1, 500000))
    assert struct.unpack("<qq", K.getsockopt(fd, 1, 20, 16)) == (1, 500000)
    assert err(K.setsockopt, fd, 1, 20, struct.pack("<qq", 1, 1000000)) == EDOM


def test_sock_getsockopt_truncates_to_buflen():
    fd = fresh()
    assert K.getsockopt(fd, 1, 3, 2) == b"\x01\x00"
    assert K.getsockopt(fd, 1, 3, 0) == b""
    assert err(K.getsockopt, fd, 1, 3, -1) == EINVAL


def test_sock_getsockopt_identity_and_acceptconn():
    fd = fresh()
    assert (K.getsockopt(fd, 1, 3), K.getsockopt(fd, 1, 39), K.getsockopt(fd, 1, 38)) == (1, 2, 6)
    assert K.getsockopt(fd, 1, 30) == 0
    K.listen(fd, 1)
    assert K.getsockopt(fd, 1, 30) == 1


def test_tcp_setsockopt_maxseg_bounds():
    fd = fresh()
    assert K.getsockopt(fd, 6, 2) == 536
    assert err(K.setsockopt, fd, 6, 2, 87) == EINVAL
    K.setsockopt(fd, 6, 2, 1400)
    assert K.getsockopt(fd, 6, 2) == 1400


def test_tcp_setsockopt_keepalive_knobs():
    fd = fresh()
    K.setsockopt(fd, 1, 9, 1)
    K.setsockopt(fd, 6, 4, 30)
    K.setsockopt(fd, 6, 5, 5)
    K.setsockopt(fd, 6, 6, 3)
    assert [K.getsockopt(fd, 6, o) for o in (4, 5, 6)] == [30, 5, 3]
    assert K.getsockopt(fd, 1, 9) == 1
    assert err(K.setsockopt, fd, 6, 6, 200) == EINVAL


def test_tcp_nodelay_roundtrip():
    fd = fresh()
    K.setsockopt(fd, 6, 1, 1)
    assert K.getsockopt(fd, 6, 1) == 1


def test_ip_ttl_and_one_byte_reads():
    fd = fresh(2)
    assert K.getsockopt(fd, 0, 2) == K.sysctl("net.ipv4.ip_default_ttl")
    K.setsockopt(fd, 0, 2, 7)
    assert K.getsockopt(fd, 0, 2, 1) == b"\x07"
    assert err(K.setsockopt, fd, 0, 2, 0) == EINVAL


def test_ip_tos_stream_keeps_ecn():
    fd = fresh()
    K.setsockopt(fd, 0, 1, 0x13)
    assert K.getsockopt(fd, 0, 1) == 0x10


def test_tcp_opts_on_udp_enoprotoopt():
    fd = fresh(2)
    assert err(K.setsockopt, fd, 6, 1, 1) == ENOPROTOOPT
