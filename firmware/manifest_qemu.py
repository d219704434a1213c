# Frozen into build/qemu/firmware.elf (the mps2-an385 board). asyncio is frozen
# too (bytecode in flash costs no heap until imported), with the Python
# task.py because this firmware has no _asyncio C module, so the asyncio tests
# and the drop-in socket's asyncio path run on the board as on the unix port.
package("asyncio", ("__init__.py", "core.py", "event.py", "funcs.py", "lock.py", "stream.py", "task.py"),
        base_path="$(MPY_DIR)/extmod", opt=3)
package("ksock", base_path="..", opt=3)
package("boards", base_path="..", opt=3)
module("network.py", base_path="modules", opt=3)
