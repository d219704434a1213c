# Frozen into build/unix/micropython and build/unix-nocmod/micropython.
include("$(MPY_DIR)/extmod/asyncio")
package("ksock", base_path="..", opt=3)
package("boards", base_path="..", opt=3)
module("network.py", base_path="modules", opt=3)
module("ssl.py", base_path="modules", opt=3)  # MicroPython's ssl over the built-in tls (docs/tls.md)
