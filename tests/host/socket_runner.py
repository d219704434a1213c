# Differential case runner, shared by both sides: on the target it drives
# ksock.sys, in the oracle it drives socket_oracle (the same API on Linux's
# libc). A case is (name, [step, ...]); a step is (op, arg, ...); "$N" (or
# "$N.i") in an argument is step N's result (or its i-th element). Each step
# yields its value or ("E", errno). Plain Python: runs on MicroPython too.
# `K` must be bound to the backend module before run_cases() is called.

def _arg(a, res):
    if isinstance(a, str) and a[:1] == "$":
        i, _, j = a[1:].partition(".")
        v = res[int(i)]
        return v[int(j)] if j else v
    if isinstance(a, tuple) and a and isinstance(a[0], str) and a[0][:1] == "$":
        return tuple(_arg(x, res) for x in a)  # socketcall's argument vector
    return a


def _port_in_range(fd):
    lo, hi = K.sysctl("net.ipv4.ip_local_port_range")
    p = K.getsockname(fd)[1]
    return lo <= p <= hi


def _tcp_info(fd):
    b = K.getsockopt(fd, 6, 11, 32)  # TCP_INFO: state ... tcpi_unacked, tcpi_sacked
    return (b[0], b[24] | b[25] << 8 | b[26] << 16 | b[27] << 24, b[28] | b[29] << 8 | b[30] << 16 | b[31] << 24)


def _step(op, a, saved):
    if op == "sysctl":
        if a[0] not in saved:
            saved[a[0]] = K.sysctl(a[0])
        return K.sysctl(a[0], a[1]) if len(a) > 1 else K.sysctl(a[0])
    if op == "rlimit":
        if "rlimit" not in saved:
            saved["rlimit"] = K.getrlimit_nofile()
        return K.setrlimit_nofile(a[0])
    if op == "nocap":
        saved["cap"] = 1
        return K.cap_set(10, False)  # CAP_NET_BIND_SERVICE
    if op == "port_in_range":
        return _port_in_range(a[0])
    if op == "tcp_info":
        return _tcp_info(a[0])
    return getattr(K, op)(*a)


def _reset(saved):
    K.close_range(3)
    for k, v in saved.items():
        if k == "rlimit":
            K.setrlimit_nofile(v)
        elif k == "cap":
            K.cap_set(10, True)
    # restore sysctls; twice, so cross-checked pairs (port range vs
    # unprivileged start) land whatever the order
    keys = [k for k in saved if k not in ("rlimit", "cap")]
    for _ in range(2):
        for k in keys:
            try:
                K.sysctl(k, saved[k])
            except OSError:
                pass


def run_case(steps):
    res = []
    saved = {}
    for st in steps:
        args = [_arg(x, res) for x in st[1:]]
        try:
            r = _step(st[0], args, saved)
            if r is None:
                r = 0
        except OSError as e:
            r = ("E", e.args[0])
        except Exception as e:
            r = ("X", type(e).__name__)
        res.append(r)
    _reset(saved)
    return res


def run_cases(cases):
    return [run_case(c[1]) for c in cases]
