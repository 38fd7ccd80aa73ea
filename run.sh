#!/usr/bin/env bash
# Runs the product: the server (public backend on PORT, default 3000, plus the private
# face-service on 127.0.0.1:8000) on the embedded defaults, exactly as the container
# runs it, under supervisord, and with a display the kiosk window, paired with it.
# With arguments, runs that `sonta` command instead (e.g. ./run.sh face models), in the
# folder it was started from, so relative paths (photos/ama.jpg) are the caller's;
# arguments starting with -- go to the kiosk window (e.g. ./run.sh --source video.mp4).
# FACE_MODEL=vectron uses the offline model pack (no download); FACE_MODEL=dlib the
# public-domain one (no download either).
set -euo pipefail
CALLER="$PWD"
cd "$(dirname "$0")"
source scripts/bootstrap.sh

system_packages_for_runtime
sync_venv runtime

export PATH="$PWD/.venv/bin:$PATH"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  cd "$CALLER"
  exec sonta "$@"
fi
say "Sonta Attendance server on http://localhost:${PORT:-3000} (API docs at /api/docs); Ctrl-C stops it"
# `sonta supervise` runs supervisord.conf as the container does (pid file and data in
# SONTA_DATA_DIR; it says so when run as root, which the image never is). The programs
# write to /dev/stdout by path, as in the container; a pipe (as Docker gives) keeps their
# lines whole even when this script's output goes to a file.
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  say "No display here, so no kiosk window: running the server alone"
  sonta supervise --conf supervisord.conf | (trap '' INT TERM; exec cat)
  exit
fi
sonta supervise --conf supervisord.conf | (trap '' INT TERM; exec cat) &
# The kiosk window, paired on its first start with this server; closing it leaves
# the server running until Ctrl-C.
(cd "$CALLER" && exec sonta kiosk --local-server "http://127.0.0.1:${PORT:-3000}" "$@") \
  || say "the kiosk window ended; the server keeps running (Ctrl-C stops it)"
wait
