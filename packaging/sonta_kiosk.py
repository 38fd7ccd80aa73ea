"""Entry point of the kiosk's desktop bundle: the `sonta` command with the kiosk's parts only.

`sonta-kiosk` opens the window; `sonta-kiosk kiosk self-test ...` and the other kiosk
commands work as `sonta kiosk ...` does in a developer install. The server's commands are
not in the bundle.
"""

from __future__ import annotations

import sys

from sonta.cli import KIOSK_MODULES, main


def run() -> int:
    argv = sys.argv[1:]
    if not argv or (argv[0].startswith("--") and argv[0] not in ("--help", "--verbose")):
        argv = ["kiosk", *argv]  # `sonta-kiosk --windowed` is `sonta kiosk --windowed`
    return main(argv, modules=KIOSK_MODULES)


if __name__ == "__main__":
    sys.exit(run())
