"""Face templates: encrypted storage, metadata listing, erasure, duplicate check, re-keying."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.core.security.templates import SealedTemplate, TemplateCipher
from server.backend.crud import gallery
from server.backend.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    TemplateDecryptionError,
)
from server.backend.face_model import ServerFaceModel
from server.backend.models import Admin, FaceTemplate, Member

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Match:
    member: Member
    similarity: float


def _sealed(row: FaceTemplate) -> SealedTemplate:
    return SealedTemplate(row.key_version, row.nonce, row.ciphertext)


def open_row(cipher: TemplateCipher, row: FaceTemplate) -> NDArray[np.float32]:
    """Decrypt a stored row; the row's own ids are the associated data."""
    return cipher.open(
        _sealed(row), member_id=row.member_id, template_id=row.id, model_id=row.model_id
    )


def sealed_columns(
    cipher: TemplateCipher,
    vector: NDArray[np.float32],
    *,
    member_id: uuid.UUID,
    model_id: str,
) -> dict[str, Any]:
    """A new template row's columns for ``vector``, sealed with the row's own ids as the
    associated data (a bulk insert takes these dicts as they are)."""
    template_id = uuid.uuid4()
    sealed = cipher.seal(vector, member_id=member_id, template_id=template_id, model_id=model_id)
    return {
        "id": template_id,
        "member_id": member_id,
        "model_id": model_id,
        "key_version": sealed.key_version,
        "nonce": sealed.nonce,
        "ciphertext": sealed.ciphertext,
    }


def normalised(values: list[float]) -> NDArray[np.float32]:
    """An L2-normalised float32 vector; refuses non-finite or all-zero input."""
    vector = np.asarray(values, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    if not np.all(np.isfinite(vector)) or not np.isfinite(norm) or norm == 0.0:
        raise BadRequestError("The embedding must be finite numbers, not all zero.")
    return (vector / norm).astype(np.float32)


def list_for_member(*, session: Session, member_id: uuid.UUID) -> list[FaceTemplate]:
    query = select(FaceTemplate).where(FaceTemplate.member_id == member_id)
    return list(session.scalars(query.order_by(FaceTemplate.created_at)))


def best_other_match(
    *,
    session: Session,
    cipher: TemplateCipher,
    embedding: NDArray[np.float32],
    model_id: str,
    exclude_member: uuid.UUID,
) -> Match | None:
    """The most similar template of another member (cosine of unit vectors)."""
    query = select(FaceTemplate).where(
        FaceTemplate.model_id == model_id, FaceTemplate.member_id != exclude_member
    )
    best: tuple[float, uuid.UUID] | None = None
    for row in session.scalars(query):
        try:
            stored = open_row(cipher, row)
        except TemplateDecryptionError as exc:
            # One damaged row must not block every enrolment; an operator must see it.
            logger.error("Skipping template in the duplicate check: %s", exc.message)
            continue
        similarity = float(np.dot(stored, embedding))
        if best is None or similarity > best[0]:
            best = (similarity, row.member_id)
    if best is None:
        return None
    member = session.get(Member, best[1])
    return Match(member, best[0]) if member else None


def _check_enrolment(member: Member, model_id: str, face_model: ServerFaceModel) -> None:
    """Refuse enrolment without consent, or of another recogniser's embedding."""
    if not member.consent_given:
        raise ConflictError("Record the member's biometric consent before enrolling a face.")
    if model_id != face_model.model_id:
        raise ConflictError(
            f"This embedding was made by {model_id}, but the server uses {face_model.model_id} "
            f"(FACE_MODEL={face_model.pack_name}). Embeddings of different recognisers cannot "
            "be compared: update the kiosk to the server's model and enrol again, or run a "
            "re-embedding job after changing the server's pack."
        )


def enrol(
    *,
    session: Session,
    cipher: TemplateCipher,
    face_model: ServerFaceModel,
    member: Member,
    embedding: list[float],
    model_id: str,
    by: Admin | None,
) -> FaceTemplate:
    """Store a kiosk-computed embedding for `member`, after every check that protects it."""
    _check_enrolment(member, model_id, face_model)
    vector = normalised(embedding)
    match = best_other_match(
        session=session,
        cipher=cipher,
        embedding=vector,
        model_id=model_id,
        exclude_member=member.id,
    )
    if match is not None and match.similarity >= face_model.accept_threshold:
        raise ConflictError(
            f"This face is already enrolled for {match.member.full_name}.",
            details={"member_id": str(match.member.id), "similarity": round(match.similarity, 3)},
        )
    row = FaceTemplate(
        **sealed_columns(cipher, vector, member_id=member.id, model_id=model_id),
        created_by_id=by.id if by else None,
    )
    session.add(row)
    session.flush()
    gallery.record_added(session=session, template=row)
    return row


def get(*, session: Session, member_id: uuid.UUID, template_id: uuid.UUID) -> FaceTemplate:
    row = session.get(FaceTemplate, template_id)
    if row is None or row.member_id != member_id:
        raise NotFoundError("No such face template for this member.")
    return row


@dataclass(frozen=True)
class ReencryptReport:
    reencrypted: int
    already_current: int
    failed: list[uuid.UUID]


def reencrypt_all(*, session: Session, cipher: TemplateCipher) -> ReencryptReport:
    """Re-seal every template not under the current key (fresh nonce each time)."""
    done, current, failed = 0, 0, []
    for row in session.scalars(select(FaceTemplate)):
        if row.key_version == cipher.current_version:
            current += 1
            continue
        try:
            vector = open_row(cipher, row)
        except TemplateDecryptionError:
            failed.append(row.id)
            continue
        sealed = cipher.seal(
            vector, member_id=row.member_id, template_id=row.id, model_id=row.model_id
        )
        row.key_version, row.nonce, row.ciphertext = (
            sealed.key_version,
            sealed.nonce,
            sealed.ciphertext,
        )
        done += 1
    session.flush()
    return ReencryptReport(done, current, failed)
