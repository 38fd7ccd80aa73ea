#!/usr/bin/env bash
# Sourced by run.sh and test.sh: makes sure this machine has what the project needs
# (system libraries, a pinned uv, the locked virtualenv in .venv) and installs only
# what is missing, so a second run is fast.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"
export UV_PYTHON_DOWNLOADS=never   # use the machine's Python 3.11+, never fetch one
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "Python 3.11 or newer is needed as python3 (found: $(python3 --version 2>&1 || echo none))."

# Debian/Ubuntu packages. Each argument is a package name, or alternatives "a|b" for
# names that changed between releases (the t64 transition); installs what is missing.
apt_ensure() {
  local missing=() wanted
  for wanted in "$@"; do
    installed_any "$wanted" || missing+=("$wanted")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "please install these system packages: ${missing[*]//|/ or }"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  local names=()
  for wanted in "${missing[@]}"; do
    names+=("$(first_available "$wanted")")
  done
  say "installing system packages: ${names[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null
}

installed_any() {
  local pkg
  for pkg in ${1//|/ }; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" && return 0
  done
  return 1
}

first_available() {
  local pkg
  for pkg in ${1//|/ }; do
    apt-cache show "$pkg" >/dev/null 2>&1 && { echo "$pkg"; return; }
  done
  echo "${1%%|*}"
}

system_packages_for_runtime() {
  # venv/ensurepip for the bootstrap (Debian splits them out); libGL and GLib for Qt;
  # the libraries PySide6's wheels link against but do not ship (QtGui, QtWidgets and
  # the offscreen platform the tests use): EGL, xkbcommon, fontconfig, FreeType, D-Bus,
  # and Brotli for QtNetwork.
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_ensure python3-venv
  apt_ensure libgl1 "libglib2.0-0t64|libglib2.0-0" \
    libegl1 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libbrotli1
  # The kiosk window on a real display: Qt's xcb platform plugin and what it loads;
  # PulseAudio's client library for Qt Multimedia (sounds); a font for the text.
  apt_ensure libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
    libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 \
    libxcb-xfixes0 libxcb-sync1 libx11-xcb1 libwayland-cursor0 libwayland-egl1 \
    libpulse0 fonts-dejavu-core
}

system_packages_for_tests() {
  # iproute2: the container tests run supervisord in a network namespace made with `ip`.
  # xvfb and xauth: the kiosk window's screenshot tests run on a virtual X display.
  # chromium: the phone page's tests drive Debian's browser with Playwright (no download).
  # curl: the README walkthrough's test runs its commands as written.
  apt_ensure iproute2 xvfb xauth chromium curl
  # ffmpeg: the phone's selfie-video tests encode H.264, HEVC and VP9 clips as phones
  # record them (OpenCV's wheel decodes these but cannot encode H.264 or HEVC).
  apt_ensure ffmpeg
  # The kiosk's bundle and .deb (tests/packaging): PyInstaller reads shared libraries'
  # dependencies with objdump (binutils); dpkg-deb packs and dpkg installs the package.
  apt_ensure binutils dpkg
  # promtool (Debian ships it in the prometheus package) checks and unit-tests the
  # alert rules in deploy/prometheus.
  apt_ensure prometheus
  # The self-test's keyring test runs GNOME Keyring on a private D-Bus session.
  apt_ensure gnome-keyring "dbus-daemon|dbus"
  # xdotool: the desktop apps' as-shipped tests type and press keys on the Xvfb screen.
  apt_ensure xdotool
  # The check-in sounds' tests play them into a PulseAudio null sink and record it (parec).
  apt_ensure pulseaudio pulseaudio-utils
  # The image tests build and run the image: with Docker where a Docker engine answers,
  # else with podman (runc for hybrid cgroups, netavark for published ports, debootstrap
  # for a local base image where no container registry answers).
  if ! { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
    apt_ensure podman runc netavark aardvark-dns iptables debootstrap
  fi
}

ensure_uv() {
  if [ ! -x "$ROOT/.tools/bin/uv" ] || [ "$("$ROOT/.tools/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    say "installing uv $UV_VERSION into .tools/"
    python3 -m venv "$ROOT/.tools"
    "$ROOT/.tools/bin/pip" install -q "uv==$UV_VERSION"
  fi
}

# The extras each script installs: `runtime` (./run.sh) is what a person runs, the server
# and the kiosk, plus the offline model pack when FACE_MODEL=vectron; `all` (./test.sh)
# adds the dev extra, whose test-only packages (keyrings.alt's plain-file keyring, pytest,
# ...) must never reach a person's install.
venv_extras() {
  case "$1" in
    runtime)
      printf '%s\n' --extra server --extra kiosk
      [ "${FACE_MODEL:-}" != vectron ] || printf '%s\n' --extra offline-pack
      [ "${FACE_MODEL:-}" != dlib ] || printf '%s\n' --extra dlib-pack
      ;;
    all) printf '%s\n' --all-extras ;;
    *) die "venv_extras: runtime or all, not '$1'" ;;
  esac
}

# Installs the locked dependencies of `runtime` or `all` (see venv_extras) into .venv.
# The runtime sync is --inexact: it adds what is missing but leaves a developer's extra
# packages in place, so ./run.sh never uninstalls the tools ./test.sh is running with.
sync_venv() {
  local mode="$1" extras exact=()
  mapfile -t extras < <(venv_extras "$mode")
  [ "$mode" = all ] || exact=(--inexact)
  ensure_uv
  say "syncing .venv with uv.lock ($mode)"
  (cd "$ROOT" && "$ROOT/.tools/bin/uv" sync --frozen "${extras[@]}" "${exact[@]}" --quiet)
}
