# net/socket.c on the target: sockfs inode pool (ENFILE, reuse, i_ino),
# net_families registration, move_addr_to_kernel/user, socketcall.
from ksock import sys as K
from ksock.net import socket as S
from ksock.uapi.errno import ENFILE, EEXIST, ENOBUFS, EINVAL, EAFNOSUPPORT, EFAULT


def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def test_sock_alloc_enfile_when_pool_empty():
    K.close_range(3)
    old = S.sock_inode_cachep.max
    S.sockfs_set_max(S.sockets_in_use() + 2)
    try:
        K.socket(2, 1), K.socket(2, 2)
        assert err(K.socket, 2, 1) == ENFILE
        K.close(3)
        assert K.socket(2, 1) == 3
    finally:
        S.sockfs_set_max(old)
        K.close_range(3)


def test_sock_release_returns_inode_for_reuse_with_new_ino():
    K.close_range(3)
    fd = K.socket(2, 1)
    s = S.sock_from_file(S.fdtable.fdget(fd))
    ino = s.i_ino
    K.close(fd)
    assert s.state == 0 and s.sk is None and s in S.sock_inode_cachep.free
    fd = K.socket(2, 2)
    s2 = S.sock_from_file(S.fdtable.fdget(fd))
    assert s2 is s and s2.i_ino > ino and s2.i_mode & 0o170000 == S.S_IFSOCK


def test_sock_create_failure_releases_inode():
    K.close_range(3)
    n = S.sockets_in_use()
    assert err(K.socket, 2, 5, 0) == 94  # ESOCKTNOSUPPORT
    assert err(K.socket, 7, 1, 0) == EAFNOSUPPORT
    assert S.sockets_in_use() == n


def test_sock_register_eexist_enobufs():
    pf = S.net_proto_family(2, lambda *a: 0)
    assert S.sock_register(pf) == -EEXIST
    assert S.sock_register(S.net_proto_family(46, None)) == -ENOBUFS
    fam = S.net_proto_family(40, lambda sock, proto, kern: -EINVAL)
    assert S.sock_register(fam) == 0
    assert err(K.socket, 40, 1, 0) == EINVAL
    S.sock_unregister(40)
    assert err(K.socket, 40, 1, 0) == EAFNOSUPPORT


def test_move_addr_to_kernel_lengths():
    assert S.move_addr_to_kernel(b"x" * 129, 129)[1] == -EINVAL
    assert S.move_addr_to_kernel(b"", -1)[1] == -EINVAL
    assert S.move_addr_to_kernel(b"ab", 3)[1] == -EFAULT
    k, e = S.move_addr_to_kernel(b"ab", 2)
    assert e == 0 and len(k) == 128 and k[:2] == b"ab"


def test_move_addr_to_user_truncates_and_reports_full_len():
    a = bytes(range(16))
    assert S.move_addr_to_user(a, 16, 4) == (a[:4], 16)
    assert S.move_addr_to_user(a, 16, 64) == (a, 16)
    assert S.move_addr_to_user(a, 16, -1) == -EINVAL


def test_socketcall_dispatch_and_range():
    K.close_range(3)
    fd = K.socketcall(1, (2, 1, 0))
    assert K.socketcall(2, (fd, ("127.0.0.1", 6000))) == 0
    assert K.socketcall(4, (fd, 3)) == 0
    assert K.socketcall(6, (fd,)) == ("127.0.0.1", 6000)
    assert K.socketcall(15, (fd, 1, 30)) == 1
    assert err(K.socketcall, 0, ()) == EINVAL
    assert err(K.socketcall, 21, ()) == EINVAL
    K.close_range(3)


def test_socket_file_ops_dispatch():
    K.close_range(3)
    fd = K.socket(2, 2)
    f = S.fdtable.fdget(fd)
    assert f.f_op is S.socket_file_ops and f.f_op.poll(f) == 0x304  # POLLOUT|WRNORM|WRBAND as Linux
    K.fcntl(fd, 4, 0o4000)  # F_SETFL O_NONBLOCK: read on an empty UDP socket is EAGAIN
    assert f.f_op.read(f, 1) == -11
    K.close(fd)
