"""The kiosk's secrets in the OS keyring, and the keyrings it refuses to use."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import chainer, fail, null
from keyrings.alt.file import PlaintextKeyring

from kiosk.credentials import CredentialStore, default_backend
from kiosk.errors import CredentialError


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
    [fail.Keyring(), null.Keyring(), PlaintextKeyring(), chainer.ChainerBackend()],
    ids=["fail", "null", "plaintext-file", "empty-chain"],
)
def test_production_refuses_keyrings_that_are_not_safe(
    backend: keyring.backend.KeyringBackend, keyring_dir: Path
) -> None:
    keyring.set_keyring(backend)
    with pytest.raises(CredentialError, match="cannot keep its secrets safely"):
        default_backend()
    with pytest.raises(CredentialError, match="cannot keep its secrets safely"):
        CredentialStore()
