"""Face templates at rest: AES-256-GCM with the template key from the OS keyring.

Each template gets a random 96-bit nonce; the associated data binds the ciphertext to
its member id, template id and model id, so a ciphertext moved to another row (or
relabelled with another model) fails to open instead of matching the wrong person.
"""

from __future__ import annotations

import secrets

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

from kiosk.errors import CredentialError

NONCE_BYTES = 12


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
