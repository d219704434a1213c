"""Flash a serial target once per session, and not at all when the board already
runs this image: a cache (build/hil-flash-cache.json) maps port+board to the
sha256 of the image (and of the .mpy bundle when a stock image is used) last
flashed there. `pytest --target=serial:/dev/ttyUSB0 --board=ESP32_W5500 --flash`.
"""
import json
import os

from host_tools import flash as F

CACHE = os.path.join(F.ROOT, "build", "hil-flash-cache.json")


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def ensure_flashed(board, port, image=None, cache=CACHE, log=print, **kw):
    """Flash `board` on `port` unless the cache says this image is on it.
    Returns True when it flashed, False when the cache matched. `kw` goes to
    host_tools.flash.flash (mount= for an RP2040's drive)."""
    desc = F.load_board(board)
    img = F.image_for(desc, image)
    digest = F.image_hash(desc, img, bundle=image is not None)
    key = "%s|%s" % (port, board)
    entries = _load(cache)
    if entries.get(key) == digest:
        log("hil: %s already runs %s (%s...), not flashing" % (port, os.path.basename(img), digest[:12]))
        return False
    F.flash(board, port, image, **kw)
    entries[key] = digest
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache + ".tmp", "w") as f:
        json.dump(entries, f, indent=1)
    os.replace(cache + ".tmp", cache)
    return True


def forget(port, board, cache=CACHE):
    """Drop the entry (after a failed run the board's state is unknown)."""
    entries = _load(cache)
    if entries.pop("%s|%s" % (port, board), None) is not None:
        with open(cache, "w") as f:
            json.dump(entries, f, indent=1)
