#!/usr/bin/env bash
# rp2 port for the W5500-EVB-Pico from Debian packages alone (DESIGN.md, "rp2"):
# our board dir (firmware/rp2/KSOCK_W5500_EVB_PICO, RPI_PICO based), ksock and
# the board descriptions frozen, the kskb user C module; UF2 made from
# firmware.bin with MicroPython's tools/uf2conv.py (no picotool, whose Debian
# build needs a newer glibc). Incremental: CMake is configured once.
#   firmware/rp2-build.sh  ->  build/rp2/firmware.uf2
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MPY="$ROOT/build/micropython"
SRC="$ROOT/build/rp2-src"
OUT="$ROOT/build/rp2"
bash "$ROOT/firmware/rp2-deps.sh"
# The DFSG tarball's lib/ submodules are empty dirs: point them at the Debian sources
# (lib/mbedtls: firmware/deps.sh links it to build/mbedtls for every port).
for d in pico-sdk tinyusb; do
    if [ ! -L "$MPY/lib/$d" ]; then
        rmdir "$MPY/lib/$d" 2>/dev/null || rm -rf "$MPY/lib/$d"
        ln -s "$SRC/$d" "$MPY/lib/$d"
    fi
done
export CMAKE_ARGS="-DPICO_NO_PICOTOOL=1 -DMICROPY_LIB_DIR=$ROOT/build/mpy-lib"
export MICROPY_MPYCROSS="$ROOT/build/mpy-cross/mpy-cross"
make -s -C "$MPY/ports/rp2" BOARD=KSOCK_W5500_EVB_PICO BOARD_DIR="$ROOT/firmware/rp2/KSOCK_W5500_EVB_PICO" BUILD="$OUT" \
    USER_C_MODULES="$ROOT/firmware/cmodules/micropython.cmake" -j"${JOBS:-$(nproc)}"
if [ ! -f "$OUT/firmware.uf2" ] || [ "$OUT/firmware.bin" -nt "$OUT/firmware.uf2" ]; then
    # rp2040 family id 0xe48bff56, flash at 0x10000000: byte-identical to picotool's UF2
    USER="${USER:-root}" python3 "$MPY/tools/uf2conv.py" -c -b 0x10000000 -f 0xe48bff56 \
        -o "$OUT/firmware.uf2" "$OUT/firmware.bin" >/dev/null
fi
ls -l "$OUT/firmware.uf2"
