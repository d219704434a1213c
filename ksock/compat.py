# The one place that knows which interpreter runs ksock: MicroPython (unix port,
# boards) or CPython 3.11 (host-side hypothesis/coverage). Everything else imports
# const, viper, ticks and heap accounting from here.
import sys

MICROPYTHON = sys.implementation.name == "micropython"
PLATFORM = sys.platform  # "linux" (unix port and CPython), "qemu", "esp32", "rp2"

if MICROPYTHON:
    import micropython
    from micropython import const
else:
    # `@micropython.viper` / `.native` are compiler directives on MicroPython, so
    # code spells them literally; on CPython they become no-op decorators.
    class micropython:
        @staticmethod
        def viper(f):
            return f

        native = viper

        @staticmethod
        def const(x):
            return x

    const = micropython.const

# kskb is the C module (firmware) or native module (.mpy); None means pure Python.
try:
    import kskb
except ImportError:
    kskb = None

# ---- ticks: MicroPython semantics (wrap at 2**30) on every interpreter ----------
TICKS_PERIOD = const(1 << 30)
_TICKS_MAX = const((1 << 30) - 1)
_TICKS_HALF = const(1 << 29)

try:
    import time as _time
except ImportError:
    _time = None

if _time is not None and hasattr(_time, "ticks_us"):
    ticks_us = _time.ticks_us
    ticks_ms = _time.ticks_ms
    ticks_diff = _time.ticks_diff
    ticks_add = _time.ticks_add
else:
    def ticks_diff(a, b):
        return ((a - b + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF

    def ticks_add(a, d):
        return (a + d) & _TICKS_MAX

    if _time is not None and hasattr(_time, "monotonic_ns"):  # CPython
        def ticks_us():
            return (_time.monotonic_ns() // 1000) & _TICKS_MAX

        def ticks_ms():
            return (_time.monotonic_ns() // 1000000) & _TICKS_MAX
    elif kskb is not None and hasattr(kskb, "ticks_us"):
        # QEMU board (no `time` module): the LAN9118 FREE_RUN counter, read in C.
        ticks_us = kskb.ticks_us
        ticks_ms = kskb.ticks_ms
    else:
        raise ImportError("ksock: no clock source (no time.ticks_us, no kskb.ticks_us)")


def mem_alloc():
    """Heap bytes in use (gc.mem_alloc() on MicroPython; tracemalloc-free 0 on CPython)."""
    import gc
    gc.collect()
    return gc.mem_alloc() if MICROPYTHON else 0


def print_exception(e, file=None):
    if MICROPYTHON:
        sys.print_exception(e, file or sys.stdout)
    else:
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__, file=file or sys.stdout)


# ---- randomness: DHCP xids, DNS query ids and ports, retransmit jitter ------------
try:
    from os import urandom as _urandom
except ImportError:
    _urandom = None
try:
    from random import getrandbits as _getrandbits
except ImportError:
    _getrandbits = None
_lcg = [ticks_us() | 1]


def random32():
    """32 random bits: os.urandom, else the port's random (seeded from hardware
    on boards), else an LCG stirred with the microsecond clock."""
    if _urandom is not None:
        try:
            b = _urandom(4)
            return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        except OSError:
            pass
    if _getrandbits is not None:
        return (_getrandbits(16) << 16) | _getrandbits(16)
    _lcg[0] = (_lcg[0] * 1103515245 + 12345 + ticks_us()) & 0xFFFFFFFF
    return _lcg[0]
