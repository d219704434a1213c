# Frozen into build/rp2/firmware.uf2: the rp2 port's own modules, asyncio, ksock
# and the board descriptions (so ksock.board boots W5500_EVB_PICO with no files).
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
package("ksock", base_path="../../..", opt=3)
package("boards", base_path="../../..", opt=3)
module("network.py", base_path="../../modules", opt=3)
module("ssl.py", base_path="../../modules", opt=3)  # MicroPython's ssl over tls (docs/tls.md)
