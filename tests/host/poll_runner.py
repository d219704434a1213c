# Case runner for test_poll_differential, shared by both sides: on the target
# it drives ksock.sys, in the oracle poll_oracle (the same API on Linux's
# libc). A case is (name, [step, ...]); "$N" / "$N.i" in an argument is step
# N's result (or its i-th element); ("U", name) is a raw sockaddr_un. Each step
# yields a normalised value or ("E", errno). Plain Python: runs on MicroPython.
# `K` and BACKEND are bound before run_cases() is called.

def _arg(a, res):
    if isinstance(a, str) and a[:1] == "$":
        i, _, j = a[1:].partition(".")
        v = res[int(i)]
        return v[int(j)] if j else v
    if isinstance(a, tuple) and len(a) == 2 and a[0] == "U":
        n = a[1]
        return b"\x01\x00" + (n.encode() if isinstance(n, str) else n)
    if isinstance(a, (list, tuple)):
        t = [_arg(x, res) for x in a]
        return t if isinstance(a, list) else tuple(t)
    return a


def _poll(fds, timeout):
    if BACKEND == "linux":
        return K.poll_revents(fds, timeout)
    got = K.poll(fds, timeout)
    out = []
    j = 0
    for fd, ev in fds:
        if j < len(got) and got[j][0] == fd:
            out.append(got[j][1])
            j += 1
        else:
            out.append(0)
    return out


def _bucket(left):
    if left is None:
        return None
    ms = left[0] * 1000 + left[1] // 1000
    return (ms + 50) // 100  # 100 ms buckets: Linux counts microseconds spent


def _step(op, a, saved):
    if op == "poll":
        return _poll(a[0], a[1])
    if op == "select":
        r = K.select(a[0], a[1], a[2], a[3], a[4])
        return (r[0], r[1], r[2], r[3], _bucket(r[4]))
    if op == "rlimit":
        if "rlimit" not in saved:
            saved["rlimit"] = K.getrlimit_nofile()
        return K.setrlimit_nofile(a[0])
    if op == "accept":
        return K.accept4(a[0], a[1] if len(a) > 1 else 0, 128)[0]
    if op == "fstat_mode":
        return K.fstat(a[0])[0]
    if op == "sockname":
        r = K.getsockname(a[0], 128)
        return (bytes(r[0]), r[1])
    if op == "sockname_len":
        return K.getsockname(a[0], 128)[1]
    if op == "unlink":
        try:
            return K.unlink(a[0])
        except OSError:
            return 0
    if op == "settimeo":  # SO_RCVTIMEO/SO_SNDTIMEO as a struct timeval (ms)
        import struct
        return K.setsockopt(a[0], 1, a[1], struct.pack("<qq", a[2] // 1000, (a[2] % 1000) * 1000))
    if op == "fill" or op == "drain":
        # MSG_DONTWAIT send (recv) until EAGAIN and poll says not writable
        # (readable within 50 ms) any more: (any bytes moved, errno or 0 at EOF)
        fill = op == "fill"
        n = 0
        b = bytes(1024)
        rb = bytearray(512)  # ksock reads into one buffer: no allocation per call on a 140 KB board
        ri = getattr(K, "recvmsg_into", None)  # (the Linux oracle's K has only recv)
        while n < 1 << 24:
            try:
                r = K.send(a[0], b, 0x40) if fill else (ri(a[0], [rb], 0x40)[0] if ri else len(K.recv(a[0], 1024, 0x40)))
            except OSError as e:
                if e.args[0] != 11 or not _poll([(a[0], 4 if fill else 1)], 0 if fill else 50)[0]:
                    return (n > 0, e.args[0])
                continue
            if not r:
                return (n > 0, 0)
            n += r
        return (n > 0, -1)
    if op == "linger0":
        import struct
        return K.setsockopt(a[0], 1, 13, struct.pack("<ii", 1, 0))
    return getattr(K, op)(*a)


def _reset(saved):
    K.close_range(3)
    if "rlimit" in saved:
        K.setrlimit_nofile(saved["rlimit"])


def run_case(steps):
    res = []
    saved = {}
    for st in steps:
        args = [_arg(x, res) for x in st[1:]]
        try:
            r = _step(st[0], args, saved)
            if r is None:
                r = 0
            if isinstance(r, list):
                r = [tuple(x) if isinstance(x, list) else x for x in r]
        except OSError as e:
            r = ("E", e.args[0])
        except Exception as e:
            r = ("X", type(e).__name__)
        res.append(r)
    _reset(saved)
    return res


def run_cases(cases):
    return [run_case(c[1]) for c in cases]
