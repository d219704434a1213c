#!/usr/bin/env bash
# ESP32_W5500 firmware: MicroPython's esp32 port (ESP32_GENERIC) with ksock and
# the board descriptions frozen and the kskb user C module, built with the
# user's own ESP-IDF (no package registry ships it) -> build/esp32/firmware.bin.
# Not run in CI (no IDF there); CI checks the message below instead.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MPY="$ROOT/build/micropython"
if [ -z "${IDF_PATH:-}" ]; then
    cat >&2 <<MSG
make firmware BOARD=ESP32_W5500: IDF_PATH is not set -- this build needs Espressif's ESP-IDF.
  MicroPython 1.25's esp32 port supports ESP-IDF v5.2, v5.2.2, v5.3 and v5.4:
    git clone -b v5.2.2 --recursive https://github.com/espressif/esp-idf.git ~/esp-idf
    ~/esp-idf/install.sh esp32 && . ~/esp-idf/export.sh
    make firmware BOARD=ESP32_W5500
  Without an IDF: flash a stock ESP32_GENERIC MicroPython image and deploy ksock as .mpy files:
    make flash BOARD=ESP32_W5500 PORT=/dev/ttyUSB0 IMAGE=ESP32_GENERIC-<date>-v1.25.0.bin
  (docs/rig.md, "ESP32 firmware").
MSG
    exit 2
fi
if ! command -v idf.py >/dev/null; then
    echo "make firmware BOARD=ESP32_W5500: IDF_PATH=$IDF_PATH but idf.py is not on PATH: run . \$IDF_PATH/export.sh" >&2
    exit 2
fi
make -C "$MPY/ports/esp32" BOARD=ESP32_GENERIC BUILD="$ROOT/build/esp32" \
    USER_C_MODULES="$ROOT/firmware/cmodules/micropython.cmake" \
    FROZEN_MANIFEST="$ROOT/firmware/manifest_esp32.py" \
    MICROPY_MPYCROSS="$ROOT/build/mpy-cross/mpy-cross"
ls -l "$ROOT/build/esp32/firmware.bin"
