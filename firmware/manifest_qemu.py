# Frozen into build/qemu/firmware.elf (the mps2-an385 board).
package("ksock", base_path="..", opt=3)
package("boards", base_path="..", opt=3)
