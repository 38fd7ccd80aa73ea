#!/usr/bin/env bash
# Builds the kiosk's desktop bundle (PyInstaller, one folder) and its Debian package.
#
#   packaging/build.sh [bundle|deb|all]     (default: all)
#
# Output: dist/sonta-kiosk/ (the bundle) and dist/sonta-kiosk_VERSION_ARCH.deb.
# PyInstaller's work folder is kept in ~/.cache/sonta-kiosk/pyinstaller (SONTA_BUILD_CACHE)
# so a rebuild re-uses the analysis of unchanged modules.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DIST="${SONTA_DIST:-$ROOT/dist}"
CACHE="${SONTA_BUILD_CACHE:-$HOME/.cache/sonta-kiosk}"
WHAT="${1:-all}"

build_bundle() {
  mkdir -p "$CACHE/pyinstaller" "$DIST"
  local started=$SECONDS
  "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --workpath "$CACHE/pyinstaller" --distpath "$DIST" "$ROOT/packaging/sonta-kiosk.spec"
  echo "bundle: $DIST/sonta-kiosk ($(du -sh "$DIST/sonta-kiosk" | cut -f1)) in $((SECONDS - started)) s"
}

case "$WHAT" in
  bundle) build_bundle ;;
  deb) "$PY" "$ROOT/packaging/make_deb.py" --bundle "$DIST/sonta-kiosk" --out "$DIST" ;;
  all) build_bundle; "$PY" "$ROOT/packaging/make_deb.py" --bundle "$DIST/sonta-kiosk" --out "$DIST" ;;
  *) echo "usage: packaging/build.sh [bundle|deb|all]" >&2; exit 2 ;;
esac
