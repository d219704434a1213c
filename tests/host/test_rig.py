"""Rig plumbing without a board: flash-once with the hash cache (real UF2 copies
to a directory standing in for the RPI-RP2 drive), and RigLink moving the
"host NIC" (a veth made in a namespace of the test's) into the peer namespace
and back."""
import os
import subprocess
import sys

from hil import netns
from hil.flashcache import ensure_flashed
from hil.plugin import require_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "rp2", "firmware.bin")


def _drive(tmp_path):
    d = tmp_path / "RPI-RP2"
    d.mkdir()
    (d / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n")
    return d


def test_flash_once_per_image_with_hash_cache(tmp_path):
    drive = _drive(tmp_path)
    cache = str(tmp_path / "cache.json")
    quiet = dict(cache=cache, log=lambda m: None, mount=str(drive))
    assert ensure_flashed("W5500_EVB_PICO", None, **quiet) is True
    assert (drive / "firmware.uf2").exists()
    (drive / "firmware.uf2").unlink()
    assert ensure_flashed("W5500_EVB_PICO", None, **quiet) is False  # same image: not flashed again
    assert not (drive / "firmware.uf2").exists()
    other = tmp_path / "other.uf2"  # a different image (first half of the binary)
    half = tmp_path / "half.bin"
    half.write_bytes(open(BIN, "rb").read()[:65536])
    subprocess.run([sys.executable, os.path.join(ROOT, "build", "micropython", "tools", "uf2conv.py"), "-c",
                    "-b", "0x10000000", "-f", "0xe48bff56", "-o", str(other), str(half)],
                   check=True, capture_output=True, env=dict(os.environ, USER="ci"))
    assert ensure_flashed("W5500_EVB_PICO", None, image=str(other), **quiet) is True
    assert (drive / "other.uf2").read_bytes() == other.read_bytes()


def test_rig_link_borrows_the_nic_and_gives_it_back(netns_ok):
    require_env(*netns_ok)
    host = netns.NetNS("h")  # stands in for the rig host's root namespace
    try:
        host.run("ip", "link", "add", "rigeth0", "type", "veth", "peer", "name", "rigbrd0")
        lk = netns.RigLink("rigeth0", subnet="10.251.7", from_ns=host.name)
        try:
            out = lk.peer.run("ip", "-o", "addr", "show", "dev", "rigeth0")
            assert "10.251.7.1/24" in out and lk.tgt_ip == "10.251.7.2" and lk.target_ns is None
            assert "rigeth0" not in host.run("ip", "-o", "link", "show")
        finally:
            lk.delete()
        links = host.run("ip", "-o", "link", "show")
        assert "rigeth0" in links  # back where it came from, address gone
        assert "10.251.7.1" not in host.run("ip", "-o", "addr", "show")
    finally:
        host.delete()
