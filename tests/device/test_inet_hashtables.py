# net/ipv4/inet_hashtables.c + inet_connection_sock.c + udp.c port tables on
# the target: bind buckets, REUSEADDR/REUSEPORT sharing, ephemeral ports,
# listening hash lookup.
from ksock import sys as K
from ksock.net.ipv4.tcp import tcp_hashinfo
from ksock.net.ipv4 import inet_hashtables as ih, udp
from ksock.net.ipv4.devinet import INADDR_LOOPBACK, INADDR_ANY

LO = "127.0.0.1"


def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def two(type=1, opt=None, opt2=None):
    K.close_range(3)
    a, b = K.socket(2, type), K.socket(2, type)
    if opt:
        K.setsockopt(a, 1, opt, 1)
    if opt2:
        K.setsockopt(b, 1, opt2, 1)
    return a, b


def test_inet_csk_get_port_conflict_eaddrinuse():
    a, b = two()
    K.bind(a, (LO, 7100))
    assert err(K.bind, b, (LO, 7100)) == 98
    assert len(ih.inet_bind_owners(tcp_hashinfo, 7100)) == 1


def test_inet_csk_get_port_reuseaddr_shares_until_listen():
    a, b = two(1, 2, 2)
    K.bind(a, (LO, 7101))
    K.bind(b, (LO, 7101))
    assert len(ih.inet_bind_owners(tcp_hashinfo, 7101)) == 2
    K.listen(a, 1)
    assert err(K.listen, b, 1) == 98


def test_inet_csk_get_port_reuseport_group_listens_together():
    a, b = two(1, 15, 15)
    K.bind(a, (LO, 7102))
    K.listen(a, 1)
    K.bind(b, (LO, 7102))
    K.listen(b, 1)
    assert len(ih.inet_listeners(tcp_hashinfo, 7102)) == 2


def test_inet_csk_get_port_reuseport_needs_same_uid():
    from ksock.fs import fdtable
    K.close_range(3)
    a = K.socket(2, 1)
    K.setsockopt(a, 1, 15, 1)
    K.bind(a, (LO, 7103))
    fdtable.current.uid = 1000
    try:
        b = K.socket(2, 1)
        K.setsockopt(b, 1, 15, 1)
        assert err(K.bind, b, (LO, 7103)) == 98
    finally:
        fdtable.current.uid = 0


def test_inet_put_port_destroys_empty_bucket():
    a, b = two()
    K.bind(a, (LO, 7104))
    K.close(a)
    assert not ih.inet_bind_owners(tcp_hashinfo, 7104)
    K.bind(b, (LO, 7104))


def test_inet_csk_find_open_port_in_range_and_exhaustion():
    K.close_range(3)
    old = K.sysctl("net.ipv4.ip_local_port_range")
    K.sysctl("net.ipv4.ip_local_port_range", (45000, 45002))
    try:
        ports = []
        for _ in range(3):
            fd = K.socket(2, 1)
            K.bind(fd, (LO, 0))
            ports.append(K.getsockname(fd)[1])
        assert sorted(ports) == [45000, 45001, 45002]
        assert ports[0] % 2 == 0  # bind() prefers even ports first
        assert err(K.bind, K.socket(2, 1), (LO, 0)) == 98
    finally:
        K.sysctl("net.ipv4.ip_local_port_range", old)


def test_udp_lib_get_port_rules():
    a, b = two(2, 2, None)
    K.bind(a, (LO, 7105))
    assert err(K.bind, b, (LO, 7105)) == 98  # REUSEADDR on one side only
    K.setsockopt(b, 1, 2, 1)
    assert err(K.bind, b, (LO, 7105)) == 0
    assert udp.udp_lib_lookup(INADDR_LOOPBACK, 7105) is not None
    K.close_range(3)
    assert not udp.udp_port_socks(udp.udp_table_v4, 7105)


def test_inet_lookup_listener_exact_beats_wildcard():
    a, b = two(1, 15, 15)
    K.bind(a, ("0.0.0.0", 7106))
    K.listen(a, 1)
    assert ih.inet_lookup_listener(tcp_hashinfo, INADDR_LOOPBACK, 7106).inet_rcv_saddr == INADDR_ANY
    K.bind(b, (LO, 7106))
    K.listen(b, 1)
    assert ih.inet_lookup_listener(tcp_hashinfo, INADDR_LOOPBACK, 7106).inet_rcv_saddr == INADDR_LOOPBACK
    assert ih.inet_lookup_listener(tcp_hashinfo, INADDR_LOOPBACK, 7107) is None
