# include/uapi/asm-generic/fcntl.h (x86_64 and arm share these values).
from ksock.compat import const

O_RDONLY = const(0)
O_WRONLY = const(1)
O_RDWR = const(2)
O_ACCMODE = const(3)
O_APPEND = const(0o2000)
O_NONBLOCK = const(0o4000)
O_NDELAY = const(0o4000)
O_DIRECT = const(0o40000)
O_NOATIME = const(0o1000000)
O_CLOEXEC = const(0o2000000)
SETFL_MASK = const(0o1046000)  # O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME

F_DUPFD = const(0)
F_GETFD = const(1)
F_SETFD = const(2)
F_GETFL = const(3)
F_SETFL = const(4)
F_DUPFD_CLOEXEC = const(1030)
FD_CLOEXEC = const(1)

RLIMIT_NOFILE = const(7)
NR_OPEN = const(1048576)  # fs.nr_open: the ceiling for RLIMIT_NOFILE
