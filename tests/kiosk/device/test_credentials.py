"""The kiosk's secrets in the OS keyring, and the keyrings it refuses to use."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import keyring
import pytest
from keyring.backends import chainer, fail, null
from keyrings.alt.file import PlaintextKeyring

from kiosk.admin.auth import TokenStore
from kiosk.device.credentials import CredentialStore, default_backend
from kiosk.device.keyring_entries import kiosk_credentials, service_for
from kiosk.errors import CredentialError
from kiosk.storage.local_store import LocalStore
from tests.kiosk.keyring_backend import BACKEND_NAME, FolderKeyring


class FakeDesktopChain(chainer.ChainerBackend):
    """keyring's chain on a desktop with keyrings.alt installed: a safe store and a plain file."""

    def __init__(self, *members: keyring.backend.KeyringBackend) -> None:
        self.members = list(members)

    @property  # type: ignore[misc]
    def backends(self) -> list[keyring.backend.KeyringBackend]:
        return self.members


def test_secrets_round_trip_in_the_keyring(credentials: CredentialStore, keyring_dir: Path) -> None:
    assert not credentials.is_paired()
    credentials.save_device_credential("kc1.token")
    key = credentials.create_template_key()
    assert credentials.is_paired()
    assert credentials.device_credential() == "kc1.token"
    assert credentials.template_key() == key and len(key) == 32
    # Written inside the test's folder, nowhere else.
    assert "sonta_2Dkiosk" in (keyring_dir / "keyring.cfg").read_text()
    credentials.forget()
    credentials.forget()
    assert not credentials.is_paired()


def test_a_missing_entry_says_to_pair_again(credentials: CredentialStore) -> None:
    with pytest.raises(CredentialError, match=r"no device credential.*sonta kiosk pair URL CODE"):
        credentials.device_credential()
    with pytest.raises(CredentialError, match=r"key .* is missing.*sonta kiosk unpair"):
        credentials.template_key()


def test_a_malformed_template_key_is_refused(credentials: CredentialStore) -> None:
    keyring.set_password(credentials.service, "template-key", "c2hvcnQ=")
    with pytest.raises(CredentialError, match="malformed"):
        credentials.template_key()


@pytest.mark.parametrize(
    "backend",
    [
        fail.Keyring(),
        null.Keyring(),
        PlaintextKeyring(),
        FakeDesktopChain(),
        FakeDesktopChain(null.Keyring(), PlaintextKeyring()),
    ],
    ids=["fail", "null", "plaintext-file", "empty-chain", "chain-of-unsafe-ones"],
)
def test_production_refuses_keyrings_that_are_not_safe(
    backend: keyring.backend.KeyringBackend, keyring_dir: Path
) -> None:
    keyring.set_keyring(backend)
    with pytest.raises(CredentialError, match="cannot keep its secrets safely"):
        default_backend()
    with pytest.raises(CredentialError, match="cannot keep its secrets safely"):
        CredentialStore()


def test_a_chain_with_a_plain_file_member_uses_its_safe_member_alone(
    keyring_dir: Path, tmp_path: Path
) -> None:
    plain = PlaintextKeyring()
    plain.file_path = str(tmp_path / "plain" / "keyring_pass.cfg")
    safe = FolderKeyring(keyring_dir)  # counted safe: it lives outside keyrings.alt's modules
    keyring.set_keyring(FakeDesktopChain(safe, plain))
    store = CredentialStore()
    store.save_device_credential("kc1.token")
    assert store.backend_name == BACKEND_NAME
    assert store.device_credential() == "kc1.token"
    # Even when keyring ranks it first, the plain file is neither written nor read.
    keyring.set_keyring(FakeDesktopChain(plain, safe))
    assert CredentialStore().device_credential() == "kc1.token"
    assert not (tmp_path / "plain").exists()


def test_refusals_name_the_app_and_the_exact_fix(
    keyring_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    keyring.set_keyring(FakeDesktopChain(PlaintextKeyring()))
    with pytest.raises(CredentialError) as kiosk_refusal:
        default_backend()
    assert str(kiosk_refusal.value).startswith("The kiosk cannot keep its secrets safely")
    assert "sudo apt install gnome-keyring" in str(kiosk_refusal.value)
    assert "sonta-kiosk-keyring setup" in str(kiosk_refusal.value)
    with pytest.raises(CredentialError) as admin_refusal:
        TokenStore("http://127.0.0.1:3000")
    assert str(admin_refusal.value).startswith("The admin app cannot keep your sign-in safely")
    assert "kiosk" not in str(admin_refusal.value).split(".")[0]
    # A plain backend named on purpose: the fix is to unset the variable that names it.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(PlaintextKeyring())
    with pytest.raises(CredentialError, match="unset it"):
        default_backend()


def _credential_for(kiosk_id: str) -> str:
    """A credential shaped as the server issues it (a JWT naming the kiosk in `sub`)."""
    claims = base64.urlsafe_b64encode(json.dumps({"sub": kiosk_id}).encode()).decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{claims.rstrip('=')}.signature"


def _paired_folder(folder: Path, kiosk_id: str) -> Path:
    store = LocalStore(folder / "kiosk.db")
    store.set_state("kiosk_id", kiosk_id)
    store.close()
    return folder


def test_entries_of_an_older_release_move_to_the_kiosk_they_belong_to(
    credentials: CredentialStore, tmp_path: Path
) -> None:
    # An older release kept one kiosk's secrets under the shared service name.
    credentials.save_device_credential(_credential_for("kiosk-a"))
    credentials.save_device_secret("secret-a")
    key = credentials.create_template_key()
    other = kiosk_credentials(_paired_folder(tmp_path / "b", "kiosk-b"))
    assert not other.is_paired()  # another kiosk's entries are not taken
    assert credentials.is_paired()
    mine = kiosk_credentials(_paired_folder(tmp_path / "a", "kiosk-a"))
    assert mine.service == service_for(tmp_path / "a")
    assert mine.device_credential() == _credential_for("kiosk-a")
    assert mine.device_secret() == "secret-a" and mine.template_key() == key
    assert not credentials.is_paired()  # moved, not copied: no kiosk shares them any more
    assert kiosk_credentials(tmp_path / "a").template_key() == key  # and found next time
