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

# Debug information and the static symbol table are never loaded at run time (libpython
# carries 14 MB of the first, cryptography's Rust library 3 MB of the second); the dynamic
# symbols stay (strip --strip-unneeded, as Debian's own packages are stripped). Only
# libraries that hold either and were not relinked by a wheel's repair tool (their RPATH
# starts at $ORIGIN): strip breaks those ("ELF load command address/offset not
# page-aligned"). Never the executable: PyInstaller appends the Python archive to it.
# (readelf's output is read whole: `readelf | grep -q` under pipefail fails whenever grep
# exits before readelf has written everything, which left libpython unstripped at random.)
strip_unneeded() {
  local lib sections dynamic
  while IFS= read -r -d '' lib; do
    sections="$(readelf -S "$lib" 2>/dev/null || true)"
    dynamic="$(readelf -d "$lib" 2>/dev/null || true)"
    # shellcheck disable=SC2016  # the literal $ORIGIN an RPATH holds
    if [[ ($sections == *.debug_info* || $sections == *.symtab*) && $dynamic != *'$ORIGIN'* ]]; then
      strip --strip-unneeded "$lib"
    fi
  done < <(find "$1" -type f -name '*.so*' -print0)
}

build_bundle() {
  mkdir -p "$CACHE/pyinstaller" "$DIST"
  local started=$SECONDS
  "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --workpath "$CACHE/pyinstaller" --distpath "$DIST" "$ROOT/packaging/sonta-kiosk.spec"
  strip_unneeded "$DIST/sonta-kiosk/_internal"
  # PyInstaller links Qt's libraries into the top folder before the spec's rules drop
  # some of them (Qt Quick, Qt's FFmpeg, PDF, ...): those links point at nothing.
  find "$DIST/sonta-kiosk/_internal" -xtype l -delete
  echo "bundle: $DIST/sonta-kiosk ($(du -sh "$DIST/sonta-kiosk" | cut -f1)) in $((SECONDS - started)) s"
}

case "$WHAT" in
  bundle) build_bundle ;;
  deb) "$PY" "$ROOT/packaging/make_deb.py" --bundle "$DIST/sonta-kiosk" --out "$DIST" ;;
  all) build_bundle; "$PY" "$ROOT/packaging/make_deb.py" --bundle "$DIST/sonta-kiosk" --out "$DIST" ;;
  *) echo "usage: packaging/build.sh [bundle|deb|all]" >&2; exit 2 ;;
esac
