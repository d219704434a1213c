# net/ipv4/af_inet.c on the target: inet_create's inetsw walk, bind checks,
# listen, getname, shutdown, release. Function names say what is checked.
from ksock import sys as K
from ksock.net.ipv4 import af_inet as A
from ksock.net.ipv4.tcp import TCP_LISTEN, TCP_CLOSE
from ksock.net import socket as S
from ksock.fs import fdtable


def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def sk_of(fd):
    return S.sock_from_file(fdtable.fdget(fd)).sk


def setup():
    K.close_range(3)
    K.cap_set(K.CAP_NET_BIND_SERVICE, True)
    K.cap_set(K.CAP_NET_RAW, True)


def test_inet_create_wildcard_protocol_picks_first_entry():
    setup()
    assert sk_of(K.socket(2, 1, 0)).sk_protocol == 6
    assert sk_of(K.socket(2, 2, 0)).sk_protocol == 17


def test_inet_create_raw_wildcard_entry_needs_protocol():
    setup()
    assert err(K.socket, 2, 3, 0) == 93
    sk = sk_of(K.socket(2, 3, 1))
    assert sk.inet_num == 1 and sk.sk_reuse == 1


def test_inet_create_raw_without_cap_net_raw_eperm():
    setup()
    K.cap_set(K.CAP_NET_RAW, False)
    assert err(K.socket, 2, 3, 1) == 1
    assert err(K.socket, 2, 3, 0) == 93  # the lookup fails before the capability check
    K.cap_set(K.CAP_NET_RAW, True)


def test_inet_register_protosw_permanent_eexist_and_new_entry():
    dup = A.inet_protosw(1, 6, None, None, 0)
    assert A.inet_register_protosw(dup) == -17
    p = A.inet_protosw(5, 132, A.udp.udp_prot, A.inet_dgram_ops, 0)
    assert A.inet_register_protosw(p) == 0
    setup()
    assert err(K.socket, 2, 5, 0) == 0  # SEQPACKET now resolves to the new entry
    K.close_range(3)
    assert A.inet_unregister_protosw(p) == 0
    assert err(K.socket, 2, 5, 0) == 94
    assert A.inet_unregister_protosw(A.inetsw_array[0]) == -1


def test_inet_bind_double_bind_einval():
    setup()
    fd = K.socket(2, 1)
    K.bind(fd, ("127.0.0.1", 7001))
    assert err(K.bind, fd, ("127.0.0.1", 7002)) == 22


def test_inet_bind_short_addr_einval():
    setup()
    fd = K.socket(2, 2)
    assert err(K.bind, fd, K.sockaddr_in("127.0.0.1", 1), 15) == 22


def test_inet_bind_af_unspec_only_with_inaddr_any():
    setup()
    fd = K.socket(2, 1)
    assert err(K.bind, fd, b"\x00\x00\x1b\x59" + bytes([127, 0, 0, 1]) + bytes(8)) == 97
    assert err(K.bind, fd, b"\x00\x00\x1b\x59" + bytes(12)) == 0


def test_inet_bind_nonlocal_eaddrnotavail_unless_freebind():
    setup()
    fd = K.socket(2, 1)
    assert err(K.bind, fd, ("192.0.2.7", 7003)) == 99
    K.setsockopt(fd, 0, 15, 1)
    assert err(K.bind, fd, ("192.0.2.7", 7003)) == 0


def test_inet_bind_privileged_port_eacces_without_cap():
    setup()
    K.cap_set(K.CAP_NET_BIND_SERVICE, False)
    fd = K.socket(2, 1)
    assert err(K.bind, fd, ("127.0.0.1", 443)) == 13
    K.cap_set(K.CAP_NET_BIND_SERVICE, True)
    assert err(K.bind, fd, ("127.0.0.1", 443)) == 0


def test_inet_bind_sets_userlocks():
    setup()
    fd = K.socket(2, 1)
    K.bind(fd, ("127.0.0.1", 7004))
    assert sk_of(fd).sk_userlocks & 12 == 12
    fd2 = K.socket(2, 1)
    K.bind(fd2, ("0.0.0.0", 0))
    assert sk_of(fd2).sk_userlocks & 12 == 0


def test_inet_listen_autobind_and_state():
    setup()
    fd = K.socket(2, 1)
    K.listen(fd, 3)
    sk = sk_of(fd)
    lo, hi = K.sysctl("net.ipv4.ip_local_port_range")
    assert sk.sk_state == TCP_LISTEN and lo <= sk.inet_num <= hi
    assert sk.sk_max_ack_backlog == 3 and sk.icsk_accept_queue is not None


def test_inet_listen_backlog_clamped_by_somaxconn():
    setup()
    old = K.sysctl("net.core.somaxconn")
    K.sysctl("net.core.somaxconn", 4)
    fd = K.socket(2, 1)
    K.listen(fd, 1000)
    assert sk_of(fd).sk_max_ack_backlog == 4
    K.sysctl("net.core.somaxconn", old)


def test_inet_shutdown_listener_rd_disconnects():
    setup()
    fd = K.socket(2, 1)
    K.listen(fd, 1)
    K.shutdown(fd, 0)
    assert sk_of(fd).sk_state == TCP_CLOSE
    assert err(K.shutdown, fd, 2) == 107


def test_inet_getname_raw_reports_protocol_as_port():
    setup()
    assert K.getsockname(K.socket(2, 3, 17)) == ("0.0.0.0", 17)


def test_inet_release_on_close_unhashes():
    setup()
    from ksock.net.ipv4.tcp import tcp_hashinfo
    fd = K.socket(2, 1)
    K.bind(fd, ("127.0.0.1", 7005))
    K.listen(fd, 1)
    from ksock.net.ipv4.inet_hashtables import inet_listeners, inet_bind_owners
    assert inet_listeners(tcp_hashinfo, 7005) and inet_bind_owners(tcp_hashinfo, 7005)
    K.close(fd)
    assert not inet_listeners(tcp_hashinfo, 7005) and not inet_bind_owners(tcp_hashinfo, 7005)
