"""Face template encryption: AES-256-GCM bound to the row it belongs to.

Each encryption uses a fresh random 96-bit nonce. The associated data is the member
id, the template id and the model id, so a ciphertext copied into another row (another
member, another template, another model) fails authentication instead of decrypting.
The key version stored beside the ciphertext is a fingerprint of the key, so a row
names the key it needs and rotation can proceed row by row.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

from server.backend.core.security.qr import key_id
from server.backend.errors import TemplateDecryptionError

NONCE_BYTES = 12


@dataclass(frozen=True)
class SealedTemplate:
    key_version: str
    nonce: bytes
    ciphertext: bytes


def associated_data(member_id: uuid.UUID, template_id: uuid.UUID, model_id: str) -> bytes:
    return f"sonta-template-v1|{member_id}|{template_id}|{model_id}".encode()


class TemplateCipher:
    """Seals embeddings with the current key; opens rows sealed with any known key."""

    def __init__(self, key: str, *, previous: Sequence[str] = ()) -> None:
        self.current_version = key_id(key)
        self._keys = {key_id(k): AESGCM(k.encode()) for k in (*previous, key)}

    def seal(
        self,
        embedding: NDArray[np.float32],
        *,
        member_id: uuid.UUID,
        template_id: uuid.UUID,
        model_id: str,
    ) -> SealedTemplate:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = np.ascontiguousarray(embedding, dtype="<f4").tobytes()
        aad = associated_data(member_id, template_id, model_id)
        ciphertext = self._keys[self.current_version].encrypt(nonce, plaintext, aad)
        return SealedTemplate(self.current_version, nonce, ciphertext)

    def open(
        self,
        sealed: SealedTemplate,
        *,
        member_id: uuid.UUID,
        template_id: uuid.UUID,
        model_id: str,
    ) -> NDArray[np.float32]:
        aesgcm = self._keys.get(sealed.key_version)
        if aesgcm is None:
            raise TemplateDecryptionError(
                f"Template {template_id} was encrypted with key version {sealed.key_version}, "
                "which is not configured (EMBEDDING_ENCRYPTION_KEY or its _PREVIOUS list)."
            )
        aad = associated_data(member_id, template_id, model_id)
        try:
            plaintext = aesgcm.decrypt(sealed.nonce, sealed.ciphertext, aad)
        except InvalidTag:
            raise TemplateDecryptionError(
                f"Template {template_id} failed authentication: it was altered or does not "
                "belong to this row."
            ) from None
        return np.frombuffer(plaintext, dtype="<f4").astype(np.float32)
