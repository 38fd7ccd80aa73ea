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


def test_two_kiosks_on_one_account_pair_sync_and_are_revoked_independently(
    tmp_path: Path, backend: LiveBackend
) -> None:
    with desktop_session(tmp_path) as env:
        a, b = str(tmp_path / "a"), str(tmp_path / "b")
        for folder, name in ((a, "Hall A"), (b, "Hall B")):
            paired = sonta(
                env, "kiosk", "pair", backend.url, backend.pairing_code(name), "--data-dir", folder
            )
            assert paired.returncode == 0, paired.stderr
        services = {service for service, _ in stored_secrets(env)}
        assert services == {f"sonta-kiosk:{a}", f"sonta-kiosk:{b}"}  # one set each
        for folder, name in ((a, "Hall A"), (b, "Hall B")):
            synced = sonta(env, "kiosk", "sync", "--once", "--data-dir", folder)
            assert synced.returncode == 0, synced.stderr
            report = json.loads(
                sonta(env, "kiosk", "status", "--json", "--data-dir", folder).stdout
            )
            assert report["paired"] and report["kiosk_name"] == name  # each its own credential
        kiosk_b = json.loads(sonta(env, "kiosk", "status", "--json", "--data-dir", b).stdout)[
            "kiosk_id"
        ]
        revoked = backend.admin.post(f"/api/kiosks/{kiosk_b}/revoke", headers=backend.headers)
        assert revoked.status_code == 200, revoked.text
        sonta(env, "kiosk", "sync", "--once", "--data-dir", b)  # B learns it is revoked
        report_b = json.loads(sonta(env, "kiosk", "status", "--json", "--data-dir", b).stdout)
        assert not report_b["paired"] and report_b["revoked_at"]
        # A keeps its secrets and goes on syncing.
        assert {service for service, _ in stored_secrets(env)} == {f"sonta-kiosk:{a}"}
        synced = sonta(env, "kiosk", "sync", "--once", "--data-dir", a)
        assert synced.returncode == 0, synced.stderr
        assert json.loads(sonta(env, "kiosk", "status", "--json", "--data-dir", a).stdout)["paired"]
