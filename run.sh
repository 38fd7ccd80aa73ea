#!/usr/bin/env bash
# Runs the product. Today that is the face engine on a sample photo; the server and
# kiosk join here as they land. FACE_MODEL=vectron uses the offline pack.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh

system_packages_for_runtime
sync_venv

if [ $# -eq 0 ]; then
  set -- face detect tests/data/faces/obama.jpg tests/data/faces/biden.jpg
fi
exec .venv/bin/sonta "$@"
