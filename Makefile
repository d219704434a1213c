# ksock — see README.md. `make deps` sets up a fresh machine; `make test` runs CI.
ROOT := $(abspath .)
export ROOT
PY := $(ROOT)/.venv/bin/python
TARGET ?= unix
PYTEST_ARGS ?=

.PHONY: all deps host-deps run fuzz test test-lane-unix test-lane-boards test-unix test-nocmod test-qemu test-natmod test-jonnor test-w5500 test-rp2js flash bench lab clean help
all: firmware-all

help:
	@echo "make deps      set up this machine (apt, .venv, MicroPython source, builds)"
	@echo "make run       boot ksock on TARGET=unix|qemu|rp2js in its own network namespace"
	@echo "make test      the whole suite: unix, unix-nocmod, qemu, unix-natmod, unix-jonnor, rp2js (what CI runs)"
	@echo "make fuzz      hostile frames at ksock: FUZZ_MODE=inproc|wire TARGET=unix|qemu FRAMES= SEED= (docs/fuzz.md)"
	@echo "make bench     benchmarks -> build/bench/results.json"
	@echo "make firmware BOARD=UNIX|QEMU_MPS2_AN385|W5500_EVB_PICO|ESP32_W5500   one board's firmware"
	@echo "make flash BOARD=... PORT=/dev/ttyUSB0 [IMAGE=file]   flash a board and deploy ksock (docs/rig.md)"
	@echo "make lab       a local labgrid lab with the QEMU board as its place (pytest --target=labgrid)"

include firmware/build.mk

# Host set-up is idempotent and quick when done, so every entry point runs it:
# `make run` and `make test` work on a fresh machine with nothing else typed.
deps: firmware-all

host-deps:
	@bash firmware/deps.sh

run: firmware-all $(if $(filter rp2js,$(TARGET)),rp2)
	$(PY) -m host_tools.run --target=$(TARGET)

# Two lanes at once (2 cores; each pytest makes its own namespaces, named by pid):
# the unix interpreters, and the emulated boards. Each lane's output is printed
# whole when it ends; the run fails if either does.
test: firmware-all rp2
	@$(MAKE) --no-print-directory -O -j2 test-lane-unix test-lane-boards

test-lane-unix:
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix
	$(PY) -m pytest $(W5500_TESTS) $(PYTEST_ARGS) --target=unix-w5500
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-nocmod
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-natmod
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-jonnor

test-lane-boards:
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=qemu
	$(PY) -m pytest $(RP2JS_TESTS) $(PYTEST_ARGS) --target=rp2js
	$(PY) -m pytest tests/device/test_skbuff.py $(PYTEST_ARGS) --target=rp2js-natmod

# The W5500 driver on the register-level model, bridged to a veth (docs/w5500.md)
W5500_TESTS := tests/host/test_link_ipv4.py tests/host/test_udp_linux.py tests/host/test_packet_offloads.py tests/host/test_ip_malformed.py tests/host/test_tcp_linux.py tests/host/test_tls_board.py \
	tests/device/test_w5500.py tests/device/test_board.py
test-w5500: firmware-all
	$(PY) -m pytest $(W5500_TESTS) $(PYTEST_ARGS) --target=unix-w5500

# The W5500-EVB-Pico UF2 on an emulated RP2040 (rp2040js), the W5500 model on its
# SPI0 bridged to the veth (docs/rig.md): the device tests and the unix-w5500
# network suites; rp2js-natmod runs the skb tests on the armv6m kskb.mpy from the
# littlefs image. About 9 minutes at the emulator's ~1/3 real time (docs/rig.md).
RP2JS_TESTS := tests/device $(filter tests/host/%,$(W5500_TESTS))
test-rp2js: firmware-all rp2
	$(PY) -m pytest $(RP2JS_TESTS) $(PYTEST_ARGS) --target=rp2js
	$(PY) -m pytest tests/device/test_skbuff.py $(PYTEST_ARGS) --target=rp2js-natmod

# Flash a board and deploy ksock (host_tools/flash.py); IMAGE= flashes that file
# instead of building the board's firmware (stock MicroPython on an ESP32).
# A labgrid lab on this machine with the QEMU board as its place (docs/rig.md).
lab: firmware-all
	$(PY) -m hil.qemu_lab

flash: $(if $(IMAGE),,firmware-$(BOARD)) bundle
	$(PY) -m host_tools.flash --board=$(BOARD) $(if $(PORT),--port=$(PORT)) $(if $(IMAGE),--image=$(IMAGE)) $(FLASH_ARGS)

test-natmod test-jonnor: firmware-all
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-$(patsubst test-%,%,$@)

test-unix test-nocmod test-qemu: firmware-all
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=$(patsubst test-%,%,$(subst nocmod,unix-nocmod,$@))

# Hostile frames (docs/fuzz.md): FUZZ_MODE=inproc|wire TARGET=unix|qemu FRAMES=N SEED=S SECONDS=T
FRAMES ?= 1000000
SEED ?= 1
SECONDS ?= 30
FUZZ_MODE ?= inproc
fuzz: firmware-all
	$(PY) -m host_tools.fuzz --mode=$(FUZZ_MODE) --target=$(TARGET) --frames=$(FRAMES) --seed=$(SEED) --seconds=$(SECONDS) --json=build/fuzz-$(FUZZ_MODE)-$(TARGET).json

bench: firmware-all rp2
	$(PY) -m tests.bench.run --targets unix,unix-nocmod,unix-natmod,qemu,rp2js

clean:
	rm -rf build/unix build/unix-nocmod build/qemu build/mpy-cross build/bench build/natmod
