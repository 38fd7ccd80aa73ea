#!/usr/bin/env bash
# Runs the whole test suite: lint, format, types, import contracts, then pytest.
# Extra arguments go to pytest (e.g. ./test.sh -k gallery).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
source scripts/services.sh

system_packages_for_runtime
system_packages_for_tests
ensure_services
sync_venv all

export QT_QPA_PLATFORM=offscreen
say "ruff";          .venv/bin/ruff check .
say "ruff format";   .venv/bin/ruff format --check .
say "mypy";          .venv/bin/mypy
say "import-linter"; .venv/bin/lint-imports
# Two workers, each taking whole files (module fixtures such as a live backend or the
# built image stay in one process): most tests wait on servers and subprocesses, so two
# run side by side on a two-core machine: the suite took 14 min instead of 21 here.
say "pytest";        .venv/bin/pytest -n 2 --dist loadfile "$@"
