"""`make flash BOARD=... PORT=...`: put a firmware image on a board and deploy ksock.

    python -m host_tools.flash --board=ESP32_W5500 --port=/dev/ttyUSB0 [--image=FILE]
    python -m host_tools.flash --board=W5500_EVB_PICO [--port=/dev/ttyACM0] [--mount=DIR]

ESP32 (esptool): erase the flash, write the image at the board's offset (0x1000).
RP2040 (UF2): copy the .uf2 onto the RPI-RP2 drive (the board in BOOTSEL mode;
with --port and MicroPython running, the board is sent there by
machine.bootloader()), or `picotool load -x` when no drive is mounted.
Then deploy: with our firmware (ksock frozen) only /ksock_board is written; with
a stock image (--image) the .mpy bundle (build/bundle/<BOARD>, firmware/bundle.py)
is installed with `mpremote mip install`. Errors name what is wrong and exit 2.
"""
import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
ESP_IMAGE_MAGIC = 0xE9
MOUNT_GLOBS = ("/media/*/RPI-RP2", "/media/RPI-RP2", "/run/media/*/RPI-RP2", "/mnt/RPI-RP2", "/mnt/*/RPI-RP2")


class FlashError(Exception):
    pass


def say(msg):
    print("flash: " + msg, flush=True)


def board_names():
    sys.path.insert(0, ROOT)
    return __import__("boards").NAMES


def load_board(name):
    if not name:
        raise FlashError("BOARD= missing: one of %s" % ", ".join(board_names()))
    if name not in board_names():
        raise FlashError("unknown BOARD=%s: one of %s" % (name, ", ".join(board_names())))
    return __import__("boards." + name, None, None, ("BOARD",)).BOARD


# ---- images ---------------------------------------------------------------------

def uf2_info(path):
    """(blocks, family ids, lowest address, highest end) of a UF2 file; FlashError if it is not one."""
    data = open(path, "rb").read()
    if len(data) < 512 or len(data) % 512:
        raise FlashError("%s is not a UF2 file (size %d is not a multiple of 512)" % (path, len(data)))
    fams, lo, hi = set(), None, 0
    import struct
    for off in range(0, len(data), 512):
        m0, m1, flags, addr, size, _, nblocks, fam = struct.unpack_from("<8I", data, off)
        (end,) = struct.unpack_from("<I", data, off + 508)
        if m0 != UF2_MAGIC0 or m1 != UF2_MAGIC1 or end != UF2_MAGIC_END:
            raise FlashError("%s is not a UF2 file (bad magic in block %d)" % (path, off // 512))
        if flags & 0x2000:
            fams.add(fam)
        lo = addr if lo is None else min(lo, addr)
        hi = max(hi, addr + size)
    return len(data) // 512, fams, lo, hi


def check_image(desc, path):
    """The image to flash, checked against the board's flash method: FlashError
    with what to do when it is missing or is for another chip."""
    fl = desc["flash"]
    name = desc["name"]
    if not os.path.exists(path):
        hint = "run `make firmware BOARD=%s`" % name
        if fl["method"] == "esptool":
            hint += " (needs ESP-IDF) or pass IMAGE= a stock MicroPython .bin for %s" % fl["chip"].upper()
        shown = os.path.relpath(path, ROOT) if os.path.abspath(path).startswith(ROOT + os.sep) else path
        raise FlashError("firmware image %s missing: %s" % (shown, hint))
    if fl["method"] == "uf2":
        _, fams, lo, hi = uf2_info(path)
        if fams and fl["family"] not in fams:
            raise FlashError("wrong chip: %s is for UF2 family %s, %s's %s needs 0x%08x" % (
                path, ", ".join("0x%08x" % f for f in sorted(fams)), name, desc["mcu"].split()[0], fl["family"]))
        if lo < fl["base"]:
            raise FlashError("%s starts at 0x%08x, below the flash at 0x%08x" % (path, lo, fl["base"]))
    elif fl["method"] == "esptool":
        with open(path, "rb") as f:
            head = f.read(4)
        if path.endswith((".uf2", ".elf")) or not head or head[0] != ESP_IMAGE_MAGIC:
            raise FlashError("%s is not an ESP32 flash image (first byte 0x%02x, want 0x%02x): "
                             "use the firmware .bin" % (path, head[0] if head else 0, ESP_IMAGE_MAGIC))
    return path


def image_for(desc, image=None):
    return check_image(desc, image or os.path.join(ROOT, desc["firmware"]["image"]))


# ---- serial ports ---------------------------------------------------------------

def list_ports():
    try:
        from serial.tools import list_ports as lp
        return ["%s (%s)" % (p.device, p.description) for p in lp.comports()]
    except ImportError:
        return []


def is_url(port):
    """A pyserial URL (rfc2217://host:port from a labgrid exporter's ser2net):
    esptool and mpremote open these themselves; nothing here to stat."""
    return bool(port) and "://" in port


def check_port(port, required):
    if is_url(port):
        return port
    if not port:
        if required:
            found = list_ports()
            raise FlashError("PORT= missing: the board's serial port, e.g. PORT=/dev/ttyUSB0 (%s)" % (
                "seen here: " + ", ".join(found) if found else "no serial ports seen here"))
        return None
    if not os.path.exists(port):
        found = list_ports()
        raise FlashError("serial port %s does not exist (%s)" % (
            port, "seen here: " + ", ".join(found) if found else "no serial ports seen here: is the board plugged in?"))
    return port


# ---- ESP32 ------------------------------------------------------------------------

def esptool_error(out, desc, port):
    """A clear message for esptool's failure output."""
    chip = desc["flash"]["chip"]
    low = out.lower()
    if "wrong chip argument" in low or "this chip is" in low:
        line = [x for x in out.splitlines() if "chip is" in x.lower()]
        return "wrong chip on %s: %s; BOARD=%s expects an %s" % (
            port, line[0].strip() if line else "another chip", desc["name"], chip.upper())
    if "failed to connect" in low or "no serial data received" in low:
        return ("no %s answered on %s: check the USB cable, or hold BOOT and tap EN to enter the "
                "bootloader, then retry" % (chip.upper(), port))
    if "permission denied" in low:
        return "no permission to open %s: add yourself to the dialout group or run as root" % port
    return "esptool failed on %s (output above)" % port


def run_esptool(args, desc, port):
    cmd = [PY, "-m", "esptool", "--chip", desc["flash"]["chip"], "--port", port,
           "--baud", str(desc["flash"].get("baud", 460800))] + args
    say(" ".join(cmd[2:]))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    out = []
    for line in p.stdout:  # esptool's own progress goes straight through
        sys.stdout.write(line)
        sys.stdout.flush()
        out.append(line)
    if p.wait():
        raise FlashError(esptool_error("".join(out), desc, port))


def flash_esp32(desc, image, port, connect_attempts=None):
    extra = ["--connect-attempts", str(connect_attempts)] if connect_attempts else []
    # esptool's global options go before the command
    run_esptool(extra + ["erase-flash"], desc, port)
    run_esptool(extra + ["write-flash", "0x%x" % desc["flash"]["offset"], image], desc, port)


# ---- RP2040 -----------------------------------------------------------------------

def find_uf2_drive(mount=None):
    cands = [mount] if mount else [p for g in MOUNT_GLOBS for p in glob.glob(g)]
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "INFO_UF2.TXT")):
            return c
    if mount:
        raise FlashError("%s is not a UF2 bootloader drive (no INFO_UF2.TXT)" % mount)
    return None


def check_drive(desc, drive):
    info = open(os.path.join(drive, "INFO_UF2.TXT")).read()
    want = desc["flash"]["drive_label"]
    board_id = [x.split(":", 1)[1].strip() for x in info.splitlines() if x.startswith("Board-ID:")]
    if board_id and not board_id[0].startswith(want):
        raise FlashError("wrong chip: the drive at %s is %s, BOARD=%s needs %s" % (drive, board_id[0], desc["name"], want))


def copy_with_progress(src, dst_dir):
    n = os.path.getsize(src)
    dst = os.path.join(dst_dir, os.path.basename(src))
    done = 0
    with open(src, "rb") as f, open(dst, "wb") as g:
        while True:
            b = f.read(64 * 1024)
            if not b:
                break
            g.write(b)
            done += len(b)
            sys.stdout.write("\rflash: copying %s to %s  %3d%%" % (os.path.basename(src), dst_dir, done * 100 // n))
            sys.stdout.flush()
        g.flush()
        os.fsync(g.fileno())
    sys.stdout.write("\n")
    return dst


def enter_bootloader(port):
    say("asking MicroPython on %s to enter the UF2 bootloader" % port)
    subprocess.run([PY, "-m", "mpremote", "connect", port, "exec", "import machine; machine.bootloader()"],
                   capture_output=True, timeout=20)


def flash_rp2(desc, image, port=None, mount=None, wait_s=20):
    drive = find_uf2_drive(mount)
    if drive is None and is_url(port):
        # The bootloader's drive (or picotool's USB device) appears where the board
        # is plugged in, on the exporter, not on this host.
        raise FlashError("%s on a remote serial port (%s): its RPI-RP2 drive appears on the host the board is "
                         "plugged into; run `make flash BOARD=%s PORT=<local port>` there (docs/rig.md)"
                         % (desc["name"], port, desc["name"]))
    if drive is None and port:
        enter_bootloader(port)
        t0 = time.monotonic()
        while drive is None and time.monotonic() - t0 < wait_s:
            time.sleep(0.5)
            drive = find_uf2_drive()
    if drive is not None:
        check_drive(desc, drive)
        copy_with_progress(image, drive)
        say("copied; the board reboots into the new firmware")
        return "uf2"
    picotool = shutil.which("picotool")
    if picotool:
        say("no RPI-RP2 drive mounted: trying picotool")
        r = subprocess.run([picotool, "load", "-x", image])
        if r.returncode:
            raise FlashError("picotool failed: is the board in BOOTSEL mode (hold BOOTSEL while plugging in)?")
        return "picotool"
    raise FlashError("no RPI-RP2 drive mounted and no picotool: hold BOOTSEL while plugging the board in, "
                     "mount the drive (or pass MOUNT=/path), and retry")


# ---- deploy -----------------------------------------------------------------------

def wait_port(port, timeout=15):
    if is_url(port):  # the exporter's listener stays; the board reboots behind it
        time.sleep(2)
        return True
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if os.path.exists(port):
            time.sleep(0.5)
            return True
        time.sleep(0.25)
    return False


def deploy(desc, port, bundle):
    """Install ksock on the board: the bundle when the firmware is stock, and the
    board name in /ksock_board so `ksock.board.boot()` finds its description."""
    if not port:
        say("no PORT=: skipping the deploy (run it later with PORT= and --no-flash)")
        return
    if not wait_port(port):
        raise FlashError("%s did not come back after flashing" % port)
    mp = [PY, "-m", "mpremote", "connect", port]
    if bundle:
        pj = os.path.join(ROOT, "build", "bundle", desc["name"], "package.json")
        if not os.path.exists(pj):
            raise FlashError("%s missing: run `make bundle BOARD=%s`" % (os.path.relpath(pj, ROOT), desc["name"]))
        say("installing the ksock bundle (%s) into /lib" % os.path.relpath(pj, ROOT))
        if subprocess.run(mp + ["mip", "install", "--target", "/lib", pj]).returncode:
            raise FlashError("mpremote mip install failed on %s" % port)
    code = "f=open(%r,'w'); f.write(%r); f.close()" % ("/ksock_board", desc["name"])
    if subprocess.run(mp + ["exec", code]).returncode:
        raise FlashError("could not write /ksock_board on %s" % port)
    say("deployed: `from ksock import board; board.boot()` brings %s up" % desc["name"])


def image_hash(desc, image, bundle):
    h = hashlib.sha256(open(image, "rb").read())
    if bundle:
        pj = os.path.join(ROOT, "build", "bundle", desc["name"], "package.json")
        if os.path.exists(pj):
            h.update(open(pj, "rb").read())
    return h.hexdigest()


def flash(board, port=None, image=None, mount=None, do_flash=True, do_deploy=True, connect_attempts=None):
    desc = load_board(board)
    method = desc["flash"]["method"]
    if method == "none":
        raise FlashError("BOARD=%s has nothing to flash: it runs from build/ (make run TARGET=%s, pytest --target=%s)"
                         % (board, desc["firmware"]["target"], desc["firmware"]["target"]))
    stock = image is not None
    img = image_for(desc, image)
    port = check_port(port, required=(method == "esptool"))
    if do_flash:
        if method == "esptool":
            flash_esp32(desc, img, port, connect_attempts)
        else:
            flash_rp2(desc, img, port, mount)
    if do_deploy:
        deploy(desc, port, bundle=stock)
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default=os.environ.get("BOARD"))
    ap.add_argument("--port")
    ap.add_argument("--image", help="flash this file (e.g. stock MicroPython) and deploy the .mpy bundle")
    ap.add_argument("--mount", help="the RPI-RP2 drive's mount point (RP2040)")
    ap.add_argument("--no-flash", action="store_true", help="only deploy")
    ap.add_argument("--no-deploy", action="store_true", help="only flash")
    a = ap.parse_args(argv)
    try:
        flash(a.board, a.port, a.image, a.mount, not a.no_flash, not a.no_deploy)
    except FlashError as e:
        print("flash: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
