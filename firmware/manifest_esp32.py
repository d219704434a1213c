# Frozen into build/esp32/firmware.bin (ESP32_W5500, built with the user's ESP-IDF).
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
package("ksock", base_path="..", opt=3)
package("boards", base_path="..", opt=3)
module("network.py", base_path="modules", opt=3)
