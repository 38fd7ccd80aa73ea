#!/usr/bin/env bash
# Runs the product: the server (public backend on PORT, default 3000, plus the private
# face-service on 127.0.0.1:8000) on the embedded defaults, exactly as the container
# runs it, under supervisord. The kiosk app joins here when it lands.
# With arguments, runs that `sonta` command instead (e.g. ./run.sh face models).
# FACE_MODEL=vectron uses the offline model pack (no download).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh

system_packages_for_runtime
sync_venv

export PATH="$PWD/.venv/bin:$PATH"
if [ $# -gt 0 ]; then
  exec sonta "$@"
fi
say "Sonta Attendance server on http://localhost:${PORT:-3000} (API docs at /api/docs); Ctrl-C stops it"
# The programs write to /dev/stdout by path, as in the container; a pipe (as Docker
# gives) keeps their lines whole even when this script's output goes to a file.
supervisord -c supervisord.conf | (trap '' INT TERM; exec cat)
