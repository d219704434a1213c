# ESP32-DevKitC (ESP32-WROOM-32, 4 MB flash) + a W5500 module (e.g. WIZ850io or
# a "W5500 Lite" board) on the VSPI pins; 3V3 and GND from the DevKitC.
# Wiring table and checks: docs/rig.md.
BOARD = {
    "name": "ESP32_W5500",
    "mcu": "ESP32 (Xtensa LX6, dual core)",
    "platform": "esp32",
    "arch": "xtensawin",
    "nic": {
        "driver": "w5500",
        "spi": {"id": 2, "baudrate": 20000000, "polarity": 0, "phase": 0,
                "sck": 18, "mosi": 23, "miso": 19},   # VSPI's IO-MUX pins
        "cs": 5, "int": 4, "rst": 26,
    },
    "firmware": {"target": "esp32", "image": "build/esp32/firmware.bin",
                 "port_board": "ESP32_GENERIC"},      # needs the user's ESP-IDF
    "flash": {"method": "esptool", "chip": "esp32", "offset": 0x1000, "baud": 460800},
    "serial": {"baud": 115200, "usb": ["10c4:ea60", "1a86:7523"]},  # CP2102 / CH340 on DevKitC clones
    "net": {"mac": None, "ip": "192.168.50.2/24", "gw": "192.168.50.1"},  # mac None: 02 + machine.unique_id()
}
