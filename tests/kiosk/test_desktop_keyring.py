"""The kiosk's commands on a desktop as a person has it: GNOME Keyring unlocked at login,
no test keyring named anywhere, and keyrings.alt's plain-file keyring also installed (as
in this test environment), so keyring's chain holds both."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.kiosk.backend import LiveBackend
from tests.utils.desktop import desktop_session, stored_secrets

pytestmark = [pytest.mark.network, pytest.mark.slow]

SECRET_SERVICE = "keyring.backends.SecretService.Keyring"


def sonta(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sonta", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_pairing_keeps_the_secrets_in_gnome_keyring_and_never_in_a_plain_file(
    tmp_path: Path, backend: LiveBackend
) -> None:
    with desktop_session(tmp_path) as env:
        data = str(tmp_path / "kiosk")
        paired = sonta(
            env, "kiosk", "pair", backend.url, backend.pairing_code("Hall"), "--data-dir", data
        )
        assert paired.returncode == 0, paired.stderr
        assert "Paired as kiosk 'Hall'" in paired.stdout
        status = sonta(env, "kiosk", "status", "--json", "--data-dir", data)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["paired"] and report["keyring"] == SECRET_SERVICE
        names = {name for _, name in stored_secrets(env)}
        assert {"device-credential", "device-secret", "template-key"} <= names
        synced = sonta(env, "kiosk", "sync", "--once", "--data-dir", data)
        assert synced.returncode == 0, synced.stderr
    # keyrings.alt's file (~/.local/share/python_keyring) was never created.
    assert not (tmp_path / "home" / ".local" / "share" / "python_keyring").exists()
