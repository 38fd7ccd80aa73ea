"""A keyring backend for tests that writes only inside the test's own folder.

It is keyrings.alt's plain-file keyring, pointed at `$SONTA_TEST_KEYRING_DIR` (set by
the fixtures, also for kiosk subprocesses through `PYTHON_KEYRING_BACKEND`). Living
under `tests`, it is never found by a production install, where the kiosk refuses
plain-file keyrings.
"""

from __future__ import annotations

import os
from pathlib import Path

from keyrings.alt.file import PlaintextKeyring

ENV = "SONTA_TEST_KEYRING_DIR"
BACKEND_NAME = "tests.kiosk.keyring_backend.FolderKeyring"


class FolderKeyring(PlaintextKeyring):  # type: ignore[misc]
    """Keeps secrets in `<folder>/keyring.cfg`; the folder comes from the argument or $ENV."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__()
        where = folder or Path(os.environ[ENV])
        self.file_path = str(where / "keyring.cfg")
