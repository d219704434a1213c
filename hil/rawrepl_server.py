# Raw-REPL server for the MicroPython unix port (runs ON the interpreter under test).
# The unix port has no raw REPL of its own; this gives it the boards' protocol on
# its stdin/stdout (a pty made raw by the host), so hil/rawrepl.py drives every
# target the same way. Soft reset is done by the host restarting the process.
import sys

_in = sys.stdin.buffer
_out = sys.stdout.buffer


def _w(b):
    _out.write(b)
    try:
        _out.flush()
    except AttributeError:
        pass


def _read1():
    b = _in.read(1)
    if not b:
        raise SystemExit(0)  # host closed the line
    return b[0]


def serve():
    g = {"__name__": "__main__"}
    raw = False
    while True:
        if not raw:
            c = _read1()
            if c == 1:
                raw = True
                _w(b"raw REPL; CTRL-B to exit\r\n>")
            continue
        code = bytearray()
        while True:
            c = _read1()
            if c == 4:
                break
            if c == 1:  # re-enter raw mode: drop what was sent
                code = None
                _w(b"raw REPL; CTRL-B to exit\r\n>")
                break
            if c == 2:
                raw = False
                code = None
                _w(b"\r\nMicroPython (ksock raw-REPL server)\r\n>>> ")
                break
            if c == 3:
                code = bytearray()
                continue
            if c == 5 and not code:  # raw-paste request: not offered here
                _read1()
                _read1()
                _w(b"R\x00")
                continue
            code.append(c)
        if code is None:
            continue
        if not code:
            # Ctrl-D on an empty buffer: boards soft-reboot; the host restarts us.
            _w(b"soft reboot\r\n")
            raise SystemExit(0)
        _w(b"OK")
        try:
            exec(bytes(code), g)
            _w(b"\x04")
        except SystemExit:
            raise
        except BaseException as e:  # noqa: B902 - report everything, as pyexec does
            _w(b"\x04")
            sys.print_exception(e, sys.stdout)
        _w(b"\x04>")


serve()
