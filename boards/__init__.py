# Board descriptions, one module per board, each defining BOARD (a dict that
# imports on MicroPython and CPython alike). ksock/board.py reads them; the host
# side (firmware builds, host_tools/flash.py, hil --board) reads the same dicts.
NAMES = ("UNIX", "QEMU_MPS2_AN385", "ESP32_W5500", "W5500_EVB_PICO")
