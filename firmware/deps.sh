#!/usr/bin/env bash
# All host set-up on a fresh Debian bookworm machine (root, package registries only).
# Idempotent: each step checks first, so a second run takes seconds.
#   firmware/deps.sh            apt packages + .venv + MicroPython source
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

APT_PKGS="build-essential libffi-dev pkg-config python3-venv gcc-arm-none-eabi libnewlib-arm-none-eabi
 qemu-system-arm gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf iproute2 iputils-ping ethtool tcpdump curl xz-utils
 ser2net mosquitto mosquitto-clients dnsmasq-base netcat-openbsd openssl"
MP_VER=1.25.0
MP_TARBALL="micropython_${MP_VER}+ds.orig.tar.xz"
MP_DIR="$ROOT/build/micropython"

say() { printf '[deps] %s\n' "$*"; }

# --- Debian packages ----------------------------------------------------------
missing=""
for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node.js + npm for the rp2js target (rp2040js); Debian's nodejs is 18, enough for it
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || { echo "deps: need root to install:$missing" >&2; exit 1; }
    say "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    say "debian packages present"
fi

# --- Python virtualenv ----------------------------------------------------------
REQ_SUM="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat .venv/.req-sha256 2>/dev/null)" != "$REQ_SUM" ]; then
    say "creating .venv from requirements.txt"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q -r requirements.txt
    # pyserial and labgrid's pyserial-labgrid both ship `serial/`: labgrid's
    # (pyserial 3.5 with RFC 2217 fixes) is made to win whatever pip's order.
    .venv/bin/python -m pip install -q --no-deps --force-reinstall "$(grep '^pyserial-labgrid==' requirements.txt)"
    echo "$REQ_SUM" > .venv/.req-sha256
else
    say ".venv up to date"
fi

# --- rp2040js (npm) for the rp2js target: hil/rp2js/package-lock.json ---------------
RP2JS="$ROOT/hil/rp2js"
if ! cmp -s "$RP2JS/package-lock.json" "$RP2JS/node_modules/.package-lock.json.ksock" 2>/dev/null; then
    say "npm ci in hil/rp2js (rp2040js)"
    (cd "$RP2JS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$RP2JS/package-lock.json" "$RP2JS/node_modules/.package-lock.json.ksock"
else
    say "rp2040js present"
fi

# --- MicroPython source from Debian's source package -------------------------
# A private sources list: the system's apt sources are never touched.
if [ ! -f "$MP_DIR/.ksock-unpacked" ]; then
    APT="$ROOT/build/apt"
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/src"
    echo "deb-src http://deb.debian.org/debian trixie main" > "$APT/sources.list"
    O=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=/nonexistent
       -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache")
    if [ ! -f "$APT/src/$MP_TARBALL" ]; then
        say "fetching micropython source package (trixie)"
        apt-get "${O[@]}" update -qq
        (cd "$APT/src" && apt-get "${O[@]}" source --download-only micropython >/dev/null 2>&1)
    fi
    want="$(cut -d' ' -f1 firmware/micropython.sha256)"
    got="$(sha256sum "$APT/src/$MP_TARBALL" 2>/dev/null | cut -d' ' -f1 || true)"
    if [ "$want" != "$got" ]; then
        echo "deps: $MP_TARBALL sha256 mismatch: expected $want (firmware/micropython.sha256), got ${got:-nothing}." >&2
        echo "deps: Debian's micropython source changed; check it and update firmware/micropython.sha256." >&2
        exit 1
    fi
    rm -rf "$MP_DIR" "$ROOT/build/micropython-$MP_VER"
    tar -C "$ROOT/build" -xf "$APT/src/$MP_TARBALL"
    mv "$ROOT/build/micropython-$MP_VER" "$MP_DIR"
    # The DFSG tarball has empty lib/ submodules; freezing needs a micropython-lib dir.
    mkdir -p "$ROOT/build/mpy-lib" && touch "$ROOT/build/mpy-lib/README.md"
    touch "$MP_DIR/.ksock-unpacked"
    say "micropython $MP_VER unpacked in build/micropython (sha256 ok)"
else
    say "micropython source present"
fi

# --- mbedtls source (MicroPython's ssl/tls module) from Debian's source package --
# Same private sources list; apt checks the download against the signed index.
# It goes into build/mbedtls and MicroPython's empty lib/mbedtls points at it
# (a relative link, so a copied build/ keeps working): the unix ports build
# MICROPY_SSL_MBEDTLS from it, and the rp2 port always links it.
MBEDTLS_DIR="$ROOT/build/mbedtls"
if [ ! -f "$MBEDTLS_DIR/.ksock-unpacked" ]; then
    APT="$ROOT/build/apt"
    O=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=/nonexistent
       -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache")
    if ! ls "$APT/src"/mbedtls_*.orig.tar.* >/dev/null 2>&1; then
        say "fetching mbedtls source package (trixie)"
        mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/src"
        [ -f "$APT/sources.list" ] || echo "deb-src http://deb.debian.org/debian trixie main" > "$APT/sources.list"
        apt-get "${O[@]}" update -qq
        (cd "$APT/src" && apt-get "${O[@]}" source --download-only mbedtls >/dev/null 2>&1)
    fi
    tarball="$(ls "$APT/src"/mbedtls_*.orig.tar.* | sort -V | tail -1)"
    rm -rf "$MBEDTLS_DIR" && mkdir -p "$MBEDTLS_DIR"
    tar -C "$MBEDTLS_DIR" --strip-components=1 -xf "$tarball"
    touch "$MBEDTLS_DIR/.ksock-unpacked"
    say "$(basename "$tarball") unpacked in build/mbedtls"
else
    say "mbedtls source present"
fi
if [ "$(readlink "$MP_DIR/lib/mbedtls" 2>/dev/null)" != "../../mbedtls" ]; then
    rm -rf "$MP_DIR/lib/mbedtls"
    ln -s ../../mbedtls "$MP_DIR/lib/mbedtls"
fi
