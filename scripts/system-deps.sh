#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Sori needs (as root), or prints the one command to run.
# Usage: scripts/system-deps.sh run|test|bundle
set -euo pipefail

# Sound (sounddevice) and the Qt window's X11/OpenGL libraries.
runtime=(libportaudio2 libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxcb-cursor0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
  libxkbcommon-x11-0)
# Tests synthesize extra speech and noise with espeak-ng and sox, take screenshots under Xvfb and validate the
# desktop entry and AppStream metainfo.
testing=(espeak-ng sox libsox-fmt-mp3 xvfb xauth desktop-file-utils appstream)
# `make bundle`: libraries the bundle leaves to the desktop (packaging/system-libs.txt) and that an X11-only or
# headless build machine may lack (Qt's Wayland platform plugin links them); `make test-bundle` checks that every
# library the bundle links resolves, so the build machine needs them too.
bundling=(libwayland-client0 libwayland-cursor0 libwayland-egl1)
# Building llama-cpp-python from source needs a C++ compiler and cmake (pip brings cmake if missing).
build=(build-essential python3-venv)

wanted=("${runtime[@]}" "${build[@]}")
case "${1:-run}" in
  run) ;;
  test) wanted+=("${testing[@]}") ;;
  bundle) wanted+=("${testing[@]}" "${bundling[@]}") ;;
  *) echo "usage: $0 run|test|bundle" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "sori: not a Debian/Ubuntu system; make sure these (or your distribution's equivalents) are installed: ${wanted[*]}" >&2
  exit 0
fi

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "sori: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "sori: missing system packages. Run this once, then try again:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
