"""Face data at rest: AES-256-GCM with keys from the OS keyring.

Templates are sealed with the template key. Each gets a random 96-bit nonce; the
associated data binds the ciphertext to its member id, template id and model id, so a
ciphertext moved to another row (or relabelled with another model) fails to open instead
of matching the wrong person.

Queued check-ins are sealed with the outbox key: the upload item's face fields (the probe
embedding and the aligned crop) become one `sealed` field, and an evidence crop becomes
`EVIDENCE_MARK` + nonce + ciphertext; both are bound to the check-in's key. The rest of
the item (meeting, member, time) stays readable, so salvage and export work without keys.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

from kiosk.errors import CredentialError, DamagedRowError

NONCE_BYTES = 12
FACE_FIELDS = ("probe", "face")  # an upload item's biometric fields
SEALED_FIELD = "sealed"
EVIDENCE_MARK = b"sonta-sealed-1\x00"
NOT_OPENED = (
    "its face data does not open with this kiosk's outbox key (the keyring entry was "
    "replaced, or the row was copied from another kiosk)"
)


def _associated(member_id: str, template_id: str, model_id: str) -> bytes:
    return f"sonta-template|{member_id}|{template_id}|{model_id}".encode()


def seal(
    key: bytes, vector: NDArray[np.float32], *, member_id: str, template_id: str, model_id: str
) -> tuple[bytes, bytes]:
    """(nonce, ciphertext) of the little-endian float32 vector."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    plain = np.asarray(vector, dtype="<f4").tobytes()
    sealed = AESGCM(key).encrypt(nonce, plain, _associated(member_id, template_id, model_id))
    return nonce, sealed


def open_sealed(
    key: bytes, nonce: bytes, sealed: bytes, *, member_id: str, template_id: str, model_id: str
) -> NDArray[np.float32]:
    """The vector; a wrong key or a moved row raises CredentialError (re-pair)."""
    try:
        plain = AESGCM(key).decrypt(nonce, sealed, _associated(member_id, template_id, model_id))
    except InvalidTag:
        raise CredentialError(
            "A face template in the local database does not open with the template key in "
            "the OS keyring (the key was replaced, or the database was copied from another "
            "kiosk). Pair the kiosk again: `sonta kiosk unpair`, then "
            "`sonta kiosk pair URL CODE`."
        ) from None
    return np.frombuffer(plain, dtype="<f4").astype(np.float32)


def _outbox_associated(checkin_key: str, what: str) -> bytes:
    return f"sonta-outbox|{what}|{checkin_key}".encode()


def _packed(item: dict[str, Any]) -> bytes:
    """The face fields as bytes: the probe's length (4 bytes), the probe, then the crop."""
    probe = base64.b64decode(str(item.get("probe") or ""))
    face = base64.b64decode(str(item.get("face") or ""))
    return len(probe).to_bytes(4, "big") + probe + face


def _unpacked(plain: bytes) -> dict[str, Any]:
    size = int.from_bytes(plain[:4], "big")
    probe, face = plain[4 : 4 + size], plain[4 + size :]
    fields = {"probe": base64.b64encode(probe).decode("ascii")} if probe else {}
    return {**fields, **({"face": base64.b64encode(face).decode("ascii")} if face else {})}


def seal_item(key: bytes, item: dict[str, Any]) -> dict[str, Any]:
    """The upload item with its face fields (base64) replaced by one sealed field.

    The fields are sealed as raw bytes, so the row is no larger than it was in clear.
    """
    rest = {name: value for name, value in item.items() if name not in FACE_FIELDS}
    nonce = secrets.token_bytes(NONCE_BYTES)
    associated = _outbox_associated(str(item["key"]), "item")
    sealed = AESGCM(key).encrypt(nonce, _packed(item), associated)
    return {**rest, SEALED_FIELD: base64.b64encode(nonce + sealed).decode("ascii")}


def is_sealed_item(item: dict[str, Any]) -> bool:
    return SEALED_FIELD in item and not any(name in item for name in FACE_FIELDS)


def open_item(key: Callable[[], bytes], item: dict[str, Any]) -> dict[str, Any]:
    """The upload item as it was made; an item written before sealing comes back as it is.

    `key` is asked for only when the item is sealed. A ciphertext that does not open
    raises `DamagedRowError`, so the store sets that one row aside.
    """
    if SEALED_FIELD not in item:
        return item
    rest = {name: value for name, value in item.items() if name != SEALED_FIELD}
    try:
        raw = base64.b64decode(str(item[SEALED_FIELD]), validate=True)
        associated = _outbox_associated(str(item["key"]), "item")
        plain = AESGCM(key()).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
    except (binascii.Error, ValueError, InvalidTag):
        raise DamagedRowError(NOT_OPENED) from None
    return {**rest, **_unpacked(plain)}


def seal_evidence(key: bytes, checkin_key: str, jpeg: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, jpeg, _outbox_associated(checkin_key, "evidence"))
    return EVIDENCE_MARK + nonce + sealed


def is_sealed_evidence(blob: bytes) -> bool:
    return blob.startswith(EVIDENCE_MARK)


def open_evidence(key: Callable[[], bytes], checkin_key: str, blob: bytes) -> bytes:
    """The evidence JPEG (one stored before sealing comes back as it is); else DamagedRowError."""
    if not is_sealed_evidence(blob):
        return blob
    raw = blob[len(EVIDENCE_MARK) :]
    try:
        return AESGCM(key()).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _outbox_associated(checkin_key, "evidence")
        )
    except (InvalidTag, ValueError):
        raise DamagedRowError(NOT_OPENED.replace("face data", "evidence crop")) from None
