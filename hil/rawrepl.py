"""MicroPython raw-REPL client, the one protocol every target speaks.

The same code drives the QEMU board (its UART on a pty), a real board on
/dev/ttyUSB0 (pyserial) and the unix port (our raw-REPL server on a pty).
Protocol: Ctrl-A enters raw mode (device prints 'raw REPL; CTRL-B to exit' and
'>'); code is sent and ended with Ctrl-D; the device answers 'OK', the output,
Ctrl-D, the exception text, Ctrl-D, '>'. Raw-paste mode (Ctrl-E 'A' Ctrl-A) is
used when the device offers it, so a real UART is never overrun.
"""
import os
import select
import time


class TargetError(Exception):
    """The device misbehaved at the protocol level (timeout, garbage, died)."""


class DeviceException(Exception):
    """Code run on the device raised; `.traceback` holds the device's text."""

    def __init__(self, traceback, output=""):
        super().__init__(traceback.strip().splitlines()[-1] if traceback.strip() else "error")
        self.traceback = traceback
        self.output = output


class FdStream:
    """A pty master (or any fd) with the small part of pyserial's API we use."""

    def __init__(self, fd):
        self.fd = fd

    def read_some(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return b""
        try:
            return os.read(self.fd, 4096)
        except OSError:  # EIO: the other side closed
            raise TargetError("device closed its end of the line")

    def write(self, data):
        view = memoryview(data)
        while view:
            _, w, _ = select.select([], [self.fd], [], 5)
            if not w:
                raise TargetError("device is not reading its input")
            n = os.write(self.fd, view)
            view = view[n:]

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


class SerialStream:
    """pyserial port (a real board, or QEMU's pty), or a pyserial URL such as
    rfc2217://host:port (a serial port a labgrid exporter serves through ser2net)."""

    _URL_POLL = 0.05  # read timeout of a URL port: fixed, since changing it is a network round trip

    def __init__(self, path, baudrate=115200):
        import serial

        if "://" in path:
            self.ser = serial.serial_for_url(path, baudrate=baudrate, timeout=self._URL_POLL)
            self.fd = None
        else:
            self.ser = serial.Serial(path, baudrate=baudrate, timeout=0, exclusive=True)
            self.fd = self.ser.fd

    def read_some(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            n = self.ser.in_waiting
            if n:
                return self.ser.read(n)
            left = deadline - time.monotonic()
            if left <= 0:
                return b""
            if self.fd is None:  # no fd to select on: a short blocking read
                data = self.ser.read(1)
                if data:
                    return data + self.ser.read(self.ser.in_waiting)
                continue
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                data = self.ser.read(4096)
                if data:
                    return data

    def write(self, data):
        self.ser.write(data)
        self.ser.flush()

    def close(self):
        self.ser.close()


class RawRepl:
    def __init__(self, stream, log=None):
        self.stream = stream
        self.buf = b""
        self.log = log  # callable(bytes) for a transcript, or None
        self.raw_paste = True
        self.paced = True  # a UART without flow control needs pauses in plain raw mode

    def _fill(self, timeout):
        data = self.stream.read_some(timeout)
        if data and self.log:
            self.log(data)
        self.buf += data
        return data

    def read_until(self, marker, timeout):
        """Bytes up to and including `marker`; TargetError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[: i + len(marker)], self.buf[i + len(marker):]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                tail = self.buf[-200:]
                raise TargetError("timeout after %.1fs waiting for %r; last output: %r" % (timeout, marker, tail))
            self._fill(min(left, 0.5))

    def drain(self, quiet=0.1):
        """Discard pending output until the line is quiet for `quiet` seconds."""
        while self._fill(quiet):
            pass
        self.buf = b""

    def enter(self, timeout=10):
        # Ctrl-C twice stops a running program; Ctrl-A enters raw mode. Retried:
        # a line that was just opened (QEMU's pty, a board still booting) may
        # drop the first bytes.
        deadline = time.monotonic() + timeout
        while True:
            self.stream.write(b"\r\x03\x03")
            time.sleep(0.05)
            self.drain()
            self.stream.write(b"\r\x01")
            try:
                self.read_until(b"raw REPL; CTRL-B to exit\r\n>", min(1.0, max(0.1, deadline - time.monotonic())))
                return
            except TargetError:
                if time.monotonic() >= deadline:
                    raise

    def soft_reset(self, timeout=10):
        """Ctrl-D in raw mode reboots the interpreter (boards and QEMU)."""
        self.stream.write(b"\x04")
        self.read_until(b"soft reboot", timeout)
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)

    def _send_code(self, code, timeout):
        # Raw-paste: the device grants a window and asks for more with 0x01.
        head = None
        if self.raw_paste:
            self.stream.write(b"\x05A\x01")
            head = self._read_exact(2, timeout)
        if head == b"R\x01":
            window = int.from_bytes(self._read_exact(2, timeout), "little")
            remaining = window
            i = 0
            while i < len(code):
                while remaining == 0 or self.buf:
                    if not self.buf:
                        self._fill(timeout)
                        if not self.buf:
                            raise TargetError("raw-paste: no flow-control byte from device")
                    c, self.buf = self.buf[:1], self.buf[1:]
                    if c == b"\x01":
                        remaining += window
                    elif c == b"\x04":
                        self.stream.write(b"\x04")
                        raise TargetError("raw-paste: device ended the transfer early")
                n = min(remaining, len(code) - i)
                self.stream.write(code[i:i + n])
                i += n
                remaining -= n
            self.stream.write(b"\x04")
            self.read_until(b"\x04", timeout)  # the device's end-of-data ack
            return
        # Raw-paste not offered ("R\x00") or not understood: plain raw mode.
        if head is not None:
            self.raw_paste = False
            if head != b"R\x00":  # \x05 not understood: \x01 re-entered raw mode
                self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)
        for i in range(0, len(code), 256):
            self.stream.write(code[i:i + 256])
            time.sleep(0.002 if self.paced else 0)
        self.stream.write(b"\x04")
        ok = self.read_until(b"OK", timeout)
        if ok != b"OK":
            raise TargetError("device did not accept code: %r" % ok)

    def _read_exact(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TargetError("timeout waiting for %d bytes; have %r" % (n, self.buf))
            self._fill(min(left, 0.5))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def exec_raw(self, code, timeout=30):
        """Run `code`; returns (stdout, exception_text) as str."""
        if isinstance(code, str):
            code = code.encode()
        self._send_code(code, timeout)
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        norm = lambda b: b.decode("utf-8", "replace").replace("\r\n", "\n")
        return norm(out), norm(err)
