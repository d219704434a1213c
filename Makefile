# ksock — see README.md. `make deps` sets up a fresh machine; `make test` runs CI.
ROOT := $(abspath .)
export ROOT
PY := $(ROOT)/.venv/bin/python
TARGET ?= unix
PYTEST_ARGS ?=

.PHONY: all deps host-deps run test test-unix test-nocmod test-qemu test-natmod test-jonnor bench clean help
all: firmware-all

help:
	@echo "make deps      set up this machine (apt, .venv, MicroPython source, builds)"
	@echo "make run       boot ksock on TARGET=unix|qemu in its own network namespace"
	@echo "make test      the whole suite: unix, unix-nocmod, qemu, unix-natmod, unix-jonnor (what CI runs)"
	@echo "make bench     benchmarks -> build/bench/results.json"

include firmware/build.mk

# Host set-up is idempotent and quick when done, so every entry point runs it:
# `make run` and `make test` work on a fresh machine with nothing else typed.
deps: firmware-all

host-deps:
	@bash firmware/deps.sh

run: firmware-all
	$(PY) -m host_tools.run --target=$(TARGET)

test: firmware-all
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-nocmod
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=qemu
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-natmod
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-jonnor

test-natmod test-jonnor: firmware-all
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=unix-$(patsubst test-%,%,$@)

test-unix test-nocmod test-qemu: firmware-all
	$(PY) -m pytest tests $(PYTEST_ARGS) --target=$(patsubst test-%,%,$(subst nocmod,unix-nocmod,$@))

bench: firmware-all
	$(PY) -m tests.bench.run --targets unix,unix-nocmod,unix-natmod,qemu

clean:
	rm -rf build/unix build/unix-nocmod build/qemu build/mpy-cross build/bench build/natmod
