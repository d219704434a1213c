# net/core/sysctl: dotted and /proc/sys paths, validation, the full dump.
from ksock import sys as K
from ksock.net.core import sysctl


def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.args[0]
    return 0


def test_sysctl_paths_and_dump():
    assert K.sysctl("/proc/sys/net/core/somaxconn") == K.sysctl("net.core.somaxconn")
    names = [n for n, v in K.sysctl_all()]
    for n in ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies",
              "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_nonlocal_bind"):
        assert n in names, n


def test_sysctl_board_defaults_are_small():
    if TARGET != "qemu":
        skip("board defaults only")
    assert K.sysctl("net.core.somaxconn") <= 16 and K.sysctl("net.ipv4.tcp_max_syn_backlog") <= 16


def test_sysctl_validation_einval_enoent():
    assert err(K.sysctl, "net.ipv4.ip_local_port_range", (50000, 40000)) == 22
    assert err(K.sysctl, "net.ipv4.ip_local_port_range", "100 200") == 22
    assert err(K.sysctl, "net.ipv4.tcp_syncookies", 3) == 22
    assert err(K.sysctl, "net.ipv4.no_such_knob", 1) == 2
    assert err(K.sysctl, "net.core.no_such") == 2
    old = K.sysctl("net.ipv4.ip_local_port_range")
    K.sysctl("/proc/sys/net/ipv4/ip_local_port_range", "40000 50000")
    assert K.sysctl("net.ipv4.ip_local_port_range") == (40000, 50000)
    K.sysctl("net.ipv4.ip_local_port_range", old)


def test_sysctl_unprivileged_start_below_port_range():
    assert sysctl.sysctl_set("net.ipv4.ip_unprivileged_port_start", 65535) == -22
    assert sysctl.sysctl_set("net.ipv4.ip_unprivileged_port_start", 1024) == 0
