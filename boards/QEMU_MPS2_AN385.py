# QEMU's mps2-an385 (Cortex-M3, 4 MB SRAM, ~140 KB MicroPython heap) with its
# SMSC LAN9118 at 0x40200000; the UART is a pty speaking the raw REPL.
BOARD = {
    "name": "QEMU_MPS2_AN385",
    "mcu": "Cortex-M3 (emulated)",
    "platform": "qemu",
    "arch": "armv7m",
    "nic": {"driver": "lan9118", "base": 0x40200000},
    "firmware": {"target": "qemu", "image": "build/qemu/firmware.elf"},
    "flash": {"method": "none"},  # QEMU loads the ELF: -kernel build/qemu/firmware.elf
    "serial": {"baud": 115200},
    "net": {"mac": None, "ip": "10.0.0.2/24", "gw": "10.0.0.1"},  # mac None: QEMU's -nic mac=
}
