# net/sysctl_net.c + the net.core / net.ipv4 tables (net/core/sysctl_net_core.c,
# net/ipv4/sysctl_net_ipv4.c) as data: dotted name -> value, with Linux's
# write validation. Paths may be spelled "net.core.somaxconn" or
# "/proc/sys/net/core/somaxconn". Range values are tuples.
from ksock.compat import PLATFORM
from ksock.uapi.errno import EINVAL, ENOENT

_BOARD = PLATFORM != "linux"
INT_MAX = 0x7FFFFFFF

# name: value. Boards start smaller (buffers and backlogs cost heap there).
_tab = {
    "net.core.somaxconn": 8 if _BOARD else 4096,
    "net.core.rmem_default": 2048 if _BOARD else 212992,
    "net.core.wmem_default": 2048 if _BOARD else 212992,
    "net.core.rmem_max": 8192 if _BOARD else 212992,
    "net.core.wmem_max": 8192 if _BOARD else 212992,
    # a board's tcp_rmem[2]: what tcp_fixup_rcvbuf may grow a connection to (an 8 KB
    # ring, the window Linux's sender needs to keep segments coming while we read)
    "net.ipv4.tcp_rmem": (1024, 4096, 16384) if _BOARD else (4096, 131072, 33554432),
    "net.ipv4.tcp_wmem": (1024, 2048, 8192) if _BOARD else (4096, 16384, 4194304),
    # tcp_mem / udp_mem (pages): recomputed from the heap by sk_mem.tcp_init_mem at stack init
    "net.ipv4.tcp_mem": (96, 128, 192),
    "net.ipv4.udp_mem": (48, 64, 96),
    "net.ipv4.tcp_max_syn_backlog": 16 if _BOARD else 2048,
    "net.ipv4.tcp_syncookies": 1,
    "net.ipv4.tcp_keepalive_time": 7200,
    "net.ipv4.tcp_keepalive_intvl": 75,
    "net.ipv4.tcp_keepalive_probes": 9,
    "net.ipv4.tcp_syn_retries": 6,
    "net.ipv4.tcp_synack_retries": 5,
    "net.ipv4.tcp_retries2": 15,
    "net.ipv4.tcp_orphan_retries": 0,
    "net.ipv4.tcp_fin_timeout": 60,
    "net.ipv4.tcp_abort_on_overflow": 0,
    "net.ipv4.tcp_window_scaling": 1,
    "net.ipv4.tcp_rfc1337": 0,
    "net.ipv4.tcp_timewait_len": 60,  # ksock's own: TCP_TIMEWAIT_LEN is a constant in Linux
    # recomputed from the heap by inet_timewait_sock.inet_twsk_init at stack init
    "net.ipv4.tcp_max_tw_buckets": 64 if _BOARD else 4096,
    "net.ipv4.ip_default_ttl": 64,
    "net.ipv4.ip_local_port_range": (32768, 60999),
    "net.ipv4.ip_unprivileged_port_start": 1024,
    "net.ipv4.ip_nonlocal_bind": 0,
    "net.ipv4.ping_group_range": (1, 0),
    "net.ipv4.conf.all.log_martians": 0,
}


def _minmax(lo, hi):
    def check(v):
        return 0 if isinstance(v, int) and lo <= v <= hi else -EINVAL
    return check


def _triple(v):
    return 0 if isinstance(v, tuple) and len(v) == 3 and all(isinstance(x, int) and x >= 1 for x in v) else -EINVAL


def _port_range(v):
    # ipv4_local_port_range(): 1..65535, low <= high, low >= ip_unprivileged_port_start
    if not (isinstance(v, tuple) and len(v) == 2):
        return -EINVAL
    lo, hi = v
    if not (1 <= lo <= 65535 and 1 <= hi <= 65535) or hi < lo or lo < _tab["net.ipv4.ip_unprivileged_port_start"]:
        return -EINVAL
    return 0


def _prot_sock(v):
    # ipv4_privileged_ports(): 0..65535 and not above the local port range
    if not (isinstance(v, int) and 0 <= v <= 65535) or _tab["net.ipv4.ip_local_port_range"][0] < v:
        return -EINVAL
    return 0


def _gid_range(v):
    return 0 if isinstance(v, tuple) and len(v) == 2 else -EINVAL


_check = {
    "net.core.somaxconn": _minmax(0, INT_MAX),
    "net.core.rmem_default": _minmax(256, INT_MAX),
    "net.core.wmem_default": _minmax(256, INT_MAX),
    "net.core.rmem_max": _minmax(256, INT_MAX),
    "net.core.wmem_max": _minmax(256, INT_MAX),
    "net.ipv4.tcp_rmem": _triple,
    "net.ipv4.tcp_wmem": _triple,
    "net.ipv4.tcp_mem": _triple,
    "net.ipv4.udp_mem": _triple,
    "net.ipv4.tcp_max_syn_backlog": _minmax(-INT_MAX - 1, INT_MAX),
    "net.ipv4.tcp_syncookies": _minmax(0, 2),
    "net.ipv4.tcp_keepalive_time": _minmax(1, INT_MAX),
    "net.ipv4.tcp_keepalive_intvl": _minmax(1, INT_MAX),
    "net.ipv4.tcp_keepalive_probes": _minmax(1, 127),
    "net.ipv4.tcp_syn_retries": _minmax(1, 127),
    "net.ipv4.tcp_synack_retries": _minmax(0, 255),
    "net.ipv4.tcp_retries2": _minmax(0, 255),
    "net.ipv4.tcp_orphan_retries": _minmax(0, 255),
    "net.ipv4.tcp_fin_timeout": _minmax(1, INT_MAX),
    "net.ipv4.tcp_abort_on_overflow": _minmax(0, 1),
    "net.ipv4.tcp_window_scaling": _minmax(0, 1),
    "net.ipv4.tcp_rfc1337": _minmax(0, 1),
    "net.ipv4.tcp_timewait_len": _minmax(0, 600),
    "net.ipv4.tcp_max_tw_buckets": _minmax(0, INT_MAX),
    "net.ipv4.ip_default_ttl": _minmax(1, 255),
    "net.ipv4.ip_local_port_range": _port_range,
    "net.ipv4.ip_unprivileged_port_start": _prot_sock,
    "net.ipv4.ip_nonlocal_bind": _minmax(0, 1),
    "net.ipv4.ping_group_range": _gid_range,
    "net.ipv4.conf.all.log_martians": _minmax(0, 1),
}


def _name(path):
    if path.startswith("/proc/sys/"):
        path = path[10:].replace("/", ".")
    return path


def sysctl_get(path):
    """Value of a sysctl, or -ENOENT (as an int) for an unknown name."""
    return _tab.get(_name(path), -ENOENT)


def sysctl_set(path, value):
    """Set a sysctl; 0 or -ENOENT / -EINVAL as the /proc/sys write would answer."""
    n = _name(path)
    chk = _check.get(n)
    if chk is None:
        return -ENOENT
    if isinstance(value, str):  # "32768 60999" as written to /proc/sys
        parts = [int(x) for x in value.split()]
        value = parts[0] if len(parts) == 1 else tuple(parts)
    elif isinstance(value, list):
        value = tuple(value)
    err = chk(value)
    if err:
        return err
    _tab[n] = value
    return 0


def sysctl_all():
    """Every sysctl as (name, value), sorted: `sysctl -a` for what ksock has."""
    return sorted(_tab.items())


# Fast accessors for the hot paths (no string formatting per call).
def somaxconn():
    return _tab["net.core.somaxconn"]


def sysctl(name):
    return _tab[name]
