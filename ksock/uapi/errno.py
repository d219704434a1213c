# include/uapi/asm-generic/errno{-base}.h: Linux's numbers, whatever the host's.
from ksock.compat import const

EPERM = const(1)
ENOENT = const(2)
EBADF = const(9)
EAGAIN = const(11)
ENOMEM = const(12)
EACCES = const(13)
EFAULT = const(14)
EEXIST = const(17)
EINVAL = const(22)
ENFILE = const(23)
EMFILE = const(24)
ENOTTY = const(25)
ESPIPE = const(29)
EPIPE = const(32)
EDOM = const(33)
ERANGE = const(34)
ENOSYS = const(38)
ENOTSOCK = const(88)
EDESTADDRREQ = const(89)
EMSGSIZE = const(90)
EPROTOTYPE = const(91)
ENOPROTOOPT = const(92)
EPROTONOSUPPORT = const(93)
ESOCKTNOSUPPORT = const(94)
EOPNOTSUPP = const(95)
EPFNOSUPPORT = const(96)
EAFNOSUPPORT = const(97)
EADDRINUSE = const(98)
EADDRNOTAVAIL = const(99)
ENETDOWN = const(100)
ENETUNREACH = const(101)
ECONNABORTED = const(103)
ECONNRESET = const(104)
ENOBUFS = const(105)
EISCONN = const(106)
ENOTCONN = const(107)
ESHUTDOWN = const(108)
ETIMEDOUT = const(110)
ECONNREFUSED = const(111)
EHOSTUNREACH = const(113)
EALREADY = const(114)
EINPROGRESS = const(115)


def errorcode(n):
    """Name of errno `n` (for messages and test reports); 'E?<n>' if unknown."""
    for k, v in globals().items():
        if k[:1] == "E" and v == n and k != "E":
            return k
    return "E?%d" % n
