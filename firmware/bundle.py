"""Deploy bundle for a board running stock MicroPython firmware:
.mpy files of ksock and the board descriptions compiled by our mpy-cross for the
board's arch, the native kskb module where one is built (build/natmod/<arch>),
and a package.json so `mpremote mip install` takes it from a local directory
(or from any web server hosting it):

    python firmware/bundle.py ESP32_W5500 [--out DIR]   -> build/bundle/ESP32_W5500/
    mpremote connect /dev/ttyUSB0 mip install --target /lib build/bundle/ESP32_W5500/package.json
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPYCROSS = os.path.join(ROOT, "build", "mpy-cross", "mpy-cross")
# Native .mpy files for ARM load on the same or a later ARM arch.
NATMOD_FOR = {"x64": "x64", "armv6m": "armv6m", "armv7m": "armv6m", "rv32imc": "rv32imc"}


def load_board(name):
    sys.path.insert(0, ROOT)
    try:
        mod = __import__("boards." + name, None, None, ("BOARD",))
    except ImportError:
        raise SystemExit("bundle: no board description boards/%s.py (boards: %s)" % (
            name, ", ".join(__import__("boards").NAMES)))
    return mod.BOARD


def sources():
    """(source path, device path without extension) of every module shipped."""
    out = []
    for pkg in ("ksock", "boards"):
        for d, dirs, files in os.walk(os.path.join(ROOT, pkg)):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for f in sorted(files):
                if f.endswith(".py"):
                    src = os.path.join(d, f)
                    out.append((src, os.path.relpath(src, ROOT)[:-3]))
    return out


def build(name, out=None, mpy_cross=MPYCROSS, log=print):
    b = load_board(name)
    arch = b["arch"]
    out = out or os.path.join(ROOT, "build", "bundle", name)
    if not os.path.exists(mpy_cross):
        raise SystemExit("bundle: %s missing: run `make deps`" % mpy_cross)
    urls = []
    for src, dev in sources():
        dst = os.path.join(out, dev + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            subprocess.run([mpy_cross, "-march=" + arch, "-O3", "-s", dev + ".py", "-o", dst, src],
                           check=True)
        urls.append([dev + ".mpy", dev + ".mpy"])
    nat = NATMOD_FOR.get(arch)
    natsrc = os.path.join(ROOT, "build", "natmod", nat, "kskb.mpy") if nat else None
    if natsrc and os.path.exists(natsrc):
        with open(natsrc, "rb") as f, open(os.path.join(out, "kskb.mpy"), "wb") as g:
            g.write(f.read())
        urls.append(["kskb.mpy", "kskb.mpy"])
        natmsg = "native kskb from build/natmod/%s" % nat
    else:
        natmsg = "no native kskb for %s: the pure-Python skb serves" % arch
    version = "0"
    with open(os.path.join(ROOT, "ksock", "__init__.py")) as f:
        for line in f:
            if line.startswith("__version__"):
                version = line.split("=", 1)[1].strip().strip("\"'")
    pkg = {"urls": urls, "version": version, "deps": [],
           "ksock": {"board": name, "arch": arch, "kskb": "kskb.mpy" in [u[0] for u in urls]}}
    with open(os.path.join(out, "package.json"), "w") as f:
        json.dump(pkg, f, indent=1)
    log("bundle %s: %d files for %s (%s) -> %s" % (name, len(urls), arch, natmsg, os.path.relpath(out, ROOT)))
    return out, pkg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("board")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    build(a.board, a.out)


if __name__ == "__main__":
    main()
