"""Which keyring entries belong to which kiosk: one keyring service per data folder.

Two kiosks on one OS account (two `--data-dir`s) once shared the entries of the service
`sonta-kiosk`: pairing B overwrote A's credential and revoking B wiped A's secrets. Each
kiosk now keeps its entries under `sonta-kiosk:<its data folder>`. Entries left under
the shared name by an older release move to the kiosk they belong to, the one whose
local database names the kiosk the credential was issued to, and to no other.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import sqlite3
from pathlib import Path

from keyring.backend import KeyringBackend

from kiosk.device.credentials import SERVICE, CredentialStore

log = logging.getLogger(__name__)


def service_for(data_dir: Path) -> str:
    """The keyring service of the kiosk whose data folder is `data_dir`."""
    return f"{SERVICE}:{data_dir.expanduser().resolve()}"


def kiosk_credentials(data_dir: Path, backend: KeyringBackend | None = None) -> CredentialStore:
    """The secrets of the kiosk in `data_dir`, adopting its entries from an older release."""
    store = CredentialStore(backend, service=service_for(data_dir))
    if not store.is_paired():
        _adopt_shared_entries(store, data_dir)
    return store


def _adopt_shared_entries(store: CredentialStore, data_dir: Path) -> None:
    shared = CredentialStore(store.backend, service=SERVICE)
    if not shared.is_paired():
        return
    kiosk_id = paired_kiosk_id(data_dir)
    if kiosk_id is None or kiosk_id != _subject(shared.device_credential()):
        return  # another kiosk's entries (or none of this one's): left where they are
    store.adopt(shared)
    log.info("keyring entries of kiosk %s moved to the service %s", kiosk_id, store.service)


def paired_kiosk_id(data_dir: Path) -> str | None:
    """The kiosk id the local database was paired as (read-only; None when unknown)."""
    path = data_dir.expanduser() / "kiosk.db"
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT value FROM sync_state WHERE name = 'kiosk_id'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row and row[0] else None


def _subject(credential: str) -> str | None:
    """The kiosk a credential (a JWT) was issued to, read without verifying it."""
    try:
        payload = credential.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["sub"])
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return None
