#!/usr/bin/env bash
# Sources for the rp2 port (W5500-EVB-Pico), from Debian packages alone:
#   pico-sdk-source, tinyusb-source (trixie, arch all .debs, `apt-get download`)
# (mbedtls, which the rp2 CMake always links, comes from firmware/deps.sh: build/mbedtls)
# unpacked into build/rp2-src/{pico-sdk,tinyusb}. A private sources list
# in build/apt-rp2 is used, the system's apt sources are never touched.
# Idempotent: a marker file makes a second run a no-op. Invoked by `make rp2`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
APT="$ROOT/build/apt-rp2"
SRC="$ROOT/build/rp2-src"
say() { printf '[rp2-deps] %s\n' "$*"; }

if [ -f "$SRC/.ksock-ready" ]; then
    exit 0
fi
command -v cmake >/dev/null || {
    [ "$(id -u)" = 0 ] || { echo "rp2-deps: cmake missing (apt-get install cmake)" >&2; exit 1; }
    say "installing cmake"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake >/dev/null
}
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/dl" "$SRC"
printf 'deb http://deb.debian.org/debian trixie main\n' > "$APT/sources.list"
O=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=/nonexistent
   -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
   -o "Dir::State::status=$APT/status" -o APT::Get::AllowUnauthenticated=false)
touch "$APT/status"
if ! ls "$APT/dl"/pico-sdk-source_*.deb "$APT/dl"/tinyusb-source_*.deb >/dev/null 2>&1; then
    say "apt-get update (private trixie list)"
    apt-get "${O[@]}" update -qq
    (cd "$APT/dl" && apt-get "${O[@]}" download pico-sdk-source tinyusb-source >/dev/null)
fi
rm -rf "$SRC"/{x,pico-sdk,tinyusb}
mkdir -p "$SRC/x"
for d in "$APT/dl"/pico-sdk-source_*.deb "$APT/dl"/tinyusb-source_*.deb; do
    dpkg-deb -x "$d" "$SRC/x"
done
mv "$SRC/x/usr/src/pico-sdk" "$SRC/pico-sdk"
mv "$SRC/x/usr/src/tinyusb" "$SRC/tinyusb"
touch "$SRC/pico-sdk/README.md"  # the rp2 CMake checks for it to know the submodule is there
rm -rf "$SRC/x"
touch "$SRC/.ksock-ready"
say "pico-sdk, tinyusb ready in build/rp2-src"
