# How MicroPython is built for ksock (included by the top-level Makefile).
# Each rule hands over to MicroPython's own make, which is incremental, so a
# change in firmware/cmodules/ or ksock/ rebuilds in seconds.
MPY      := $(ROOT)/build/micropython
MPYCROSS := $(ROOT)/build/mpy-cross/mpy-cross
MPYLIB   := $(ROOT)/build/mpy-lib
CMODS    := $(ROOT)/firmware/cmodules
JOBS     ?= $(shell nproc)
MPY_COMMON := MICROPY_MPYCROSS=$(MPYCROSS) MICROPY_MPYCROSS_DEPENDENCY=$(MPYCROSS) \
	MPY_LIB_DIR=$(MPYLIB) -j$(JOBS)
# ssl: MicroPython's tls module on mbedtls (build/mbedtls, firmware/deps.sh; docs/tls.md)
UNIX_FLAGS := MPY_CROSS_FLAGS=-march=x64 MICROPY_PY_SSL=1 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 \
	FROZEN_MANIFEST=$(ROOT)/firmware/manifest_unix.py $(MPY_COMMON)

build/mpy-cross/mpy-cross: host-deps
	$(MAKE) -s -C $(MPY)/mpy-cross BUILD=$(ROOT)/build/mpy-cross -j$(JOBS)

# MicroPython's make tracks headers, not -D flags: a build dir made with other
# flags (MICROPY_PY_SSL=0 before TLS) keeps stale objects and qstrs, so it is
# wiped when the flags it was made with differ (build/<dir>/.ksock-flags).
flags_check = f="$(ROOT)/build/$(1)/.ksock-flags"; want='$(2)'; \
	[ "$$(cat $$f 2>/dev/null)" = "$$want" ] || { rm -rf "$(ROOT)/build/$(1)"; mkdir -p "$(ROOT)/build/$(1)"; \
	printf '%s' "$$want" > $$f; }
UNIX_CFG = $(filter MICROPY_PY_% MICROPY_SSL_%,$(UNIX_FLAGS))

.PHONY: unix unix-nocmod qemu firmware-all
unix: build/mpy-cross/mpy-cross
	@$(call flags_check,unix,$(UNIX_CFG))
	$(MAKE) -s -C $(MPY)/ports/unix BUILD=$(ROOT)/build/unix USER_C_MODULES=$(CMODS) $(UNIX_FLAGS)

unix-nocmod: build/mpy-cross/mpy-cross
	@$(call flags_check,unix-nocmod,$(UNIX_CFG))
	$(MAKE) -s -C $(MPY)/ports/unix BUILD=$(ROOT)/build/unix-nocmod $(UNIX_FLAGS)

qemu: build/mpy-cross/mpy-cross
	$(MAKE) -s -C $(MPY)/ports/qemu BOARD=MPS2_AN385 BUILD=$(ROOT)/build/qemu \
		USER_C_MODULES=$(CMODS) FROZEN_MANIFEST=$(ROOT)/firmware/manifest_qemu.py $(MPY_COMMON)

# kskb as native modules for x64, armv6m, rv32imc (firmware/natmod/Makefile).
.PHONY: natmod
natmod: build/mpy-cross/mpy-cross
	$(MAKE) -s -C $(ROOT)/firmware/natmod ROOT=$(ROOT)

firmware-all: unix unix-nocmod qemu natmod

# One board at a time: `make firmware BOARD=UNIX|QEMU_MPS2_AN385|W5500_EVB_PICO|ESP32_W5500`
# (boards/<BOARD>.py). rp2 comes from Debian packages (firmware/rp2-build.sh);
# ESP32 needs the user's ESP-IDF (firmware/esp32-build.sh says what is missing).
BOARD ?= UNIX
FW_BOARDS := UNIX QEMU_MPS2_AN385 W5500_EVB_PICO ESP32_W5500
.PHONY: firmware rp2 esp32 bundle $(addprefix firmware-,$(FW_BOARDS))
firmware: firmware-$(BOARD)
firmware-UNIX: unix unix-nocmod natmod
firmware-QEMU_MPS2_AN385: qemu
firmware-W5500_EVB_PICO: rp2
firmware-ESP32_W5500: esp32
firmware-%:
	@echo "make firmware: unknown BOARD=$* (boards: $(FW_BOARDS))" >&2; exit 2

rp2: build/mpy-cross/mpy-cross
	@bash $(ROOT)/firmware/rp2-build.sh

esp32: build/mpy-cross/mpy-cross
	@bash $(ROOT)/firmware/esp32-build.sh

# .mpy bundle + package.json for stock firmware: build/bundle/$(BOARD)/
bundle: build/mpy-cross/mpy-cross natmod
	@$(PY) $(ROOT)/firmware/bundle.py $(BOARD)
