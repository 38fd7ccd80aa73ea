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
sync_venv

export QT_QPA_PLATFORM=offscreen
say "ruff";          .venv/bin/ruff check .
say "ruff format";   .venv/bin/ruff format --check .
say "mypy";          .venv/bin/mypy
say "import-linter"; .venv/bin/lint-imports
say "pytest";        .venv/bin/pytest "$@"
