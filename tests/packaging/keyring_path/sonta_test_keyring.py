"""A keyring backend for the bundled app's tests, loaded through keyring's `keyring-path`.

The bundle holds no test code and no plain-file keyring, so the tests point keyring's
config (`$XDG_CONFIG_HOME/python_keyring/keyringrc.cfg`) at this folder. It keeps secrets
in `$SONTA_TEST_KEYRING_DIR/secrets.json`, inside the test's temporary folder; it uses
only the standard library and keyring, which the bundle has.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class TestFolderKeyring(KeyringBackend):
    priority = 1

    @property
    def _file(self) -> Path:
        return Path(os.environ["SONTA_TEST_KEYRING_DIR"]) / "secrets.json"

    def _all(self) -> dict[str, str]:
        return json.loads(self._file.read_text()) if self._file.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._all().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._all()
        entries[f"{service}/{username}"] = password
        self._file.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._all()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._file.write_text(json.dumps(entries))
