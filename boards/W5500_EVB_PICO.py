# WIZnet W5500-EVB-Pico: an RP2040 (Raspberry Pi Pico layout, 2 MB flash) with
# a W5500 wired on the board to SPI0. Pins from WIZnet's board documentation
# (docs.wiznet.io, W5500-EVB-Pico: GPIO16 MISO, 17 CSn, 18 SCLK, 19 MOSI,
# 20 RSTn, 21 INTn), the same as MicroPython's own W5500_EVB_PICO board config.
BOARD = {
    "name": "W5500_EVB_PICO",
    "mcu": "RP2040 (Cortex-M0+, dual core)",
    "platform": "rp2",
    "arch": "armv6m",
    "nic": {
        "driver": "w5500",
        "spi": {"id": 0, "baudrate": 20000000, "polarity": 0, "phase": 0,
                "sck": 18, "mosi": 19, "miso": 16},
        "cs": 17, "int": 21, "rst": 20,
    },
    "firmware": {"target": "rp2", "image": "build/rp2/firmware.uf2"},
    "flash": {"method": "uf2", "family": 0xE48BFF56, "base": 0x10000000, "drive_label": "RPI-RP2",
              "bootloader_usb": "2e8a:0003"},         # hold BOOTSEL while plugging in
    "serial": {"baud": 115200, "usb": ["2e8a:0005"]},  # MicroPython's USB CDC
    "net": {"mac": None, "ip": "192.168.50.2/24", "gw": "192.168.50.1"},  # mac None: 02 + machine.unique_id()
}
