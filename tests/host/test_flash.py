"""host_tools/flash.py without a board: argument handling, image selection and
checks, and the error messages -- real esptool on a pty with no chip behind it,
real UF2 files from MicroPython's uf2conv.py, and a directory standing in for the
RPI-RP2 drive (what the bootloader mounts is a FAT drive holding INFO_UF2.TXT)."""
import os
import pty
import struct
import subprocess
import sys

import pytest

from host_tools import flash as F

ROOT = F.ROOT
UF2 = os.path.join(ROOT, "build", "rp2", "firmware.uf2")
BIN = os.path.join(ROOT, "build", "rp2", "firmware.bin")
UF2CONV = os.path.join(ROOT, "build", "micropython", "tools", "uf2conv.py")


def _err(capsys, argv):
    rc = F.main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    return err


def test_unknown_or_missing_board_lists_the_boards(capsys):
    err = _err(capsys, ["--board=ESP8266"])
    assert "unknown BOARD=ESP8266" in err and "W5500_EVB_PICO" in err and "ESP32_W5500" in err
    assert "BOARD= missing" in _err(capsys, [])


def test_emulated_boards_have_nothing_to_flash(capsys):
    for b in ("UNIX", "QEMU_MPS2_AN385"):
        assert "nothing to flash" in _err(capsys, ["--board=" + b])


def test_missing_image_says_how_to_make_it(capsys, tmp_path):
    err = _err(capsys, ["--board=W5500_EVB_PICO", "--image=%s" % (tmp_path / "none.uf2")])
    assert "none.uf2 missing" in err and "make firmware BOARD=W5500_EVB_PICO" in err
    esp = F.load_board("ESP32_W5500")
    if not os.path.exists(os.path.join(ROOT, esp["firmware"]["image"])):
        err = _err(capsys, ["--board=ESP32_W5500", "--port=/dev/null"])
        assert "build/esp32/firmware.bin missing" in err and "ESP-IDF" in err and "IMAGE=" in err


def test_default_image_for_pico_is_our_uf2_for_rp2040():
    desc = F.load_board("W5500_EVB_PICO")
    assert F.image_for(desc) == UF2
    blocks, fams, lo, hi = F.uf2_info(UF2)
    assert fams == {0xE48BFF56} and lo == 0x10000000
    assert blocks == (os.path.getsize(BIN) + 255) // 256 and hi - lo == blocks * 256


def test_wrong_image_kind_for_the_flash_method(capsys, tmp_path):
    err = _err(capsys, ["--board=ESP32_W5500", "--port=/dev/null", "--image=" + UF2])
    assert "is not an ESP32 flash image" in err
    esp_img = tmp_path / "esp.bin"
    esp_img.write_bytes(bytes([0xE9, 3, 2, 0x20]) + bytes(1020))
    err = _err(capsys, ["--board=W5500_EVB_PICO", "--image=%s" % esp_img])
    assert "is not a UF2 file" in err


def test_uf2_for_another_chip_is_refused(capsys, tmp_path):
    out = tmp_path / "rp2350.uf2"  # the same binary, tagged for the RP2350 (ARM-S family)
    subprocess.run([sys.executable, UF2CONV, "-c", "-b", "0x10000000", "-f", "0xe48bff59", "-o", str(out), BIN],
                   check=True, capture_output=True, env=dict(os.environ, USER="ci"))
    err = _err(capsys, ["--board=W5500_EVB_PICO", "--image=%s" % out])
    assert "wrong chip" in err and "0xe48bff59" in err and "0xe48bff56" in err


def test_esp32_port_missing_or_absent(capsys, tmp_path):
    img = tmp_path / "fw.bin"
    img.write_bytes(bytes([0xE9]) + bytes(4095))
    assert "PORT= missing" in _err(capsys, ["--board=ESP32_W5500", "--image=%s" % img])
    err = _err(capsys, ["--board=ESP32_W5500", "--image=%s" % img, "--port=/dev/ttyUSB77"])
    assert "/dev/ttyUSB77 does not exist" in err


def test_remote_port_url_is_passed_through_and_rp2_says_where_to_flash():
    url = "rfc2217://127.0.0.1:4001?ign_set_control"  # a labgrid exporter's ser2net
    assert F.check_port(url, required=True) == url
    with pytest.raises(F.FlashError) as e:  # no RPI-RP2 drive mounted here
        F.flash("W5500_EVB_PICO", url, do_deploy=False)
    assert "remote serial port" in str(e.value) and "run `make flash BOARD=W5500_EVB_PICO" in str(e.value)


def test_esptool_with_no_chip_on_the_port(capsys, tmp_path):
    img = tmp_path / "fw.bin"
    img.write_bytes(bytes([0xE9]) + bytes(4095))
    master, slave = pty.openpty()  # a serial line with nothing answering
    try:
        with pytest.raises(F.FlashError) as e:
            F.flash("ESP32_W5500", os.ttyname(slave), str(img), connect_attempts=1, do_deploy=False)
    finally:
        os.close(master)
        os.close(slave)
    assert "no ESP32 answered on /dev/pts/" in str(e.value)
    assert "esptool --chip esp32" in capsys.readouterr().out  # the command is shown as it runs


def test_esptool_wrong_chip_message():
    desc = F.load_board("ESP32_W5500")
    out = "Connecting....\nA fatal error occurred: This chip is ESP32-S3, not ESP32. Wrong chip argument?\n"
    msg = F.esptool_error(out, desc, "/dev/ttyUSB0")
    assert msg.startswith("wrong chip on /dev/ttyUSB0") and "ESP32-S3" in msg and "expects an ESP32" in msg


def test_uf2_copied_to_the_bootloader_drive_with_progress(capsys, tmp_path):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    img = F.flash("W5500_EVB_PICO", mount=str(drive))
    out = capsys.readouterr().out
    assert (drive / "firmware.uf2").read_bytes() == open(img, "rb").read()
    assert "100%" in out and "no PORT=: skipping the deploy" in out


def test_rp2350_drive_is_the_wrong_chip(tmp_path):
    drive = tmp_path / "RP2350"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v1.0\nModel: Raspberry Pi RP2350\nBoard-ID: RP2350\n")
    with pytest.raises(F.FlashError, match="wrong chip: the drive at .* is RP2350"):
        F.flash("W5500_EVB_PICO", mount=str(drive))
    with pytest.raises(F.FlashError, match="not a UF2 bootloader drive"):
        F.flash("W5500_EVB_PICO", mount=str(tmp_path))


def test_no_drive_no_picotool_tells_how_to_enter_bootsel(monkeypatch):
    monkeypatch.setattr(F, "MOUNT_GLOBS", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(F.FlashError, match="hold BOOTSEL"):
        F.flash("W5500_EVB_PICO")


def test_cli_runs_as_make_flash_does():
    r = subprocess.run([sys.executable, "-m", "host_tools.flash", "--board=QEMU_MPS2_AN385"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "flash: error: BOARD=QEMU_MPS2_AN385 has nothing to flash" in r.stderr


def test_uf2_block_layout_is_what_the_bootloader_reads():
    # every 512-byte block: magics, flags (family id present), address, 256-byte payload, block no/count
    data = open(UF2, "rb").read()
    n = len(data) // 512
    for i in (0, n // 2, n - 1):
        m0, m1, flags, addr, size, blockno, nblocks, fam = struct.unpack_from("<8I", data, i * 512)
        assert (m0, m1, flags & 0x2000, size, blockno, nblocks, fam) == (
            F.UF2_MAGIC0, F.UF2_MAGIC1, 0x2000, 256, i, n, 0xE48BFF56)
        assert addr == 0x10000000 + 256 * i
