"""The command a person typed to run this process, for the hints in messages.

A developer install has `sonta`; a venue PC with the kiosk package has only `sonta-kiosk`
(the frozen bundle, started through /usr/bin/sonta-kiosk), whose commands are the same
(`sonta-kiosk kiosk import-pack DIR`). A hint naming a command the machine does not
have sends the person nowhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

KIOSK_PACKAGE_COMMAND = "sonta-kiosk"
DEVELOPER_COMMAND = "sonta"


def program() -> str:
    """`sonta-kiosk` inside the kiosk package's bundle or when started by that name."""
    if getattr(sys, "frozen", False) or Path(sys.argv[0]).name == KIOSK_PACKAGE_COMMAND:
        return KIOSK_PACKAGE_COMMAND
    return DEVELOPER_COMMAND


def command(words: str) -> str:
    """A command line to type, quoted as the hints quote it: `sonta kiosk status`."""
    return f"`{program()} {words}`"
