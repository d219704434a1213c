# fs/file.c + fs/fcntl.c on the target: lowest free fd, RLIMIT_NOFILE, dup*,
# fcntl, reference counts on shared files, pipes as the non-socket file.
from ksock import sys as K
from ksock.fs import fdtable, pipe
from ksock.uapi.errno import EBADF, EMFILE, EINVAL, ENOTSOCK


def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def fresh():
    K.close_range(3)
    K.setrlimit_nofile(32)


def test_fdtable_stdio_reserved_first_fd_is_3():
    fresh()
    assert K.socket(2, 1) == 3
    assert fdtable.fdget(0).f_op is fdtable.console_fops


def test_alloc_fd_lowest_free_after_close():
    fresh()
    a, b, c = K.socket(2, 1), K.socket(2, 2), K.socket(2, 1)
    K.close(b)
    assert K.socket(2, 1) == b
    K.close(a)
    assert K.dup(c) == a


def test_get_unused_fd_flags_emfile_at_rlimit():
    fresh()
    K.setrlimit_nofile(5)
    K.socket(2, 1), K.socket(2, 1)
    assert err(K.socket, 2, 1) == EMFILE
    assert err(K.pipe) == EMFILE
    assert err(K.dup, 3) == EMFILE


def test_fd_array_grows_past_first_chunk():
    fresh()
    K.setrlimit_nofile(100)
    fds = [K.dup(0) for _ in range(40)]
    assert fds == list(range(3, 43))
    assert K.dup2(3, 90) == 90


def test_close_fd_twice_ebadf():
    fresh()
    fd = K.socket(2, 1)
    K.close(fd)
    assert err(K.close, fd) == EBADF
    assert err(K.close, -1) == EBADF


def test_dup_shares_file_and_refcount():
    fresh()
    fd = K.socket(2, 1)
    d = K.dup(fd)
    f = fdtable.fdget(fd)
    assert fdtable.fdget(d) is f and f.f_count == 2
    K.close(fd)
    assert f.f_count == 1 and f.private_data.sk is not None
    K.close(d)
    assert f.f_count == 0 and f.private_data.sk is None  # released on the last fput


def test_dup2_same_fd_and_dup3_einval():
    fresh()
    fd = K.socket(2, 1)
    assert K.dup2(fd, fd) == fd
    assert err(K.dup2, 20, 20) == EBADF
    assert err(K.dup3, fd, fd, 0) == EINVAL
    assert err(K.dup3, fd, 7, 1) == EINVAL
    assert err(K.dup2, fd, 32) == EBADF


def test_dup2_over_open_fd_releases_old_file():
    fresh()
    a, b = K.socket(2, 1), K.socket(2, 2)
    old = fdtable.fdget(b)
    K.dup2(a, b)
    assert old.f_count == 0 and K.getsockopt(b, 1, 3) == 1


def test_fcntl_flags_and_cloexec():
    fresh()
    fd = K.socket(2, 1 | K.SOCK_CLOEXEC)
    assert K.fcntl(fd, K.F_GETFD) == 1
    assert K.fcntl(fd, K.F_GETFL) == K.O_RDWR
    K.fcntl(fd, K.F_SETFL, K.O_NONBLOCK | K.O_WRONLY)
    assert K.fcntl(fd, K.F_GETFL) == K.O_RDWR | K.O_NONBLOCK
    assert K.fcntl(fd, K.F_DUPFD, 10) == 10 and K.fcntl(10, K.F_GETFD) == 0
    assert err(K.fcntl, fd, 12345) == EINVAL
    assert err(K.fcntl, fd, K.F_DUPFD, 32) == EINVAL


def test_pipe_is_not_a_socket_and_moves_bytes():
    fresh()
    r, w = K.pipe()
    assert err(K.bind, r, ("127.0.0.1", 0)) == ENOTSOCK
    assert K.write(w, b"hello") == 5
    assert K.read(r, 3) == b"hel" and K.read(r, 10) == b"lo"
    assert K.fcntl(r, K.F_GETFL) == 0 and K.fcntl(w, K.F_GETFL) == 1
    K.close(w)
    assert K.read(r, 1) == b""
    assert err(K.pipe2, 1) == EINVAL


def test_prlimit_nofile_checks():
    assert fdtable.do_prlimit_nofile(-1) == -EINVAL
    assert fdtable.do_prlimit_nofile(1 << 21) == -1  # EPERM above nr_open
