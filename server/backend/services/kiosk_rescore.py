"""Re-scoring a kiosk's face check-in on the server, from the face crop it sends.

A kiosk credential alone must not declare someone present: the similarity the kiosk
reports is only its claim, and so is its probe embedding (the kiosk downloads every
template; a template plus noise, sent as a probe, scored whatever the attacker chose).
The server embeds the item's aligned face crop itself (through the face-service),
compares that with the claimed member's own templates (and, when the kiosk names a
second-best member, with theirs for the margin) and decides the band from its own
numbers.

- A face check-in without a crop is never approved: its probe, if any, is a hint that
  can only refuse (too dissimilar, or a replayed template); at best it goes to review,
  where an admin decides.
- A probe equal to one of the member's stored templates is a replayed template (the
  gallery a kiosk downloads holds them, as int8 copies within 0.003 of the original),
  never a live face: it is refused as suspicious. Live captures of the same person
  stay far below REPLAY_SIMILARITY (same person 0.63-0.72 with the offline pack).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import templates as templates_crud
from server.backend.errors import RescoreError, TemplateDecryptionError
from server.backend.models import FaceTemplate
from server.backend.schemas.kiosk import KioskCheckinItem

REPLAY_SIMILARITY = 0.995


@dataclass(frozen=True)
class Rescored:
    """The server's similarity and margin; `evidence` is False when they come only from
    the kiosk's probe (a hint: it may refuse, never approve). None: nothing to score."""

    similarity: float | None
    margin: float | None
    evidence: bool = False


class BatchTemplates:
    """The templates of every member a batch names, read in one query, opened on demand.

    Per item, re-scoring read the member's templates (and the second-best member's) in
    a query of its own: a round trip to the database per check-in.
    """

    def __init__(
        self,
        session: Session,
        cipher: TemplateCipher,
        model_id: str,
        member_ids: set[uuid.UUID],
    ) -> None:
        self._cipher = cipher
        self._rows: dict[uuid.UUID, list[FaceTemplate]] = {m: [] for m in member_ids}
        self._opened: dict[uuid.UUID, list[NDArray[np.float32]]] = {}
        if member_ids:
            query = select(FaceTemplate).where(
                FaceTemplate.member_id.in_(member_ids), FaceTemplate.model_id == model_id
            )
            for row in session.scalars(query):
                self._rows[row.member_id].append(row)

    def __call__(self, member_id: uuid.UUID) -> list[NDArray[np.float32]] | None:
        """The member's opened templates; None for a member the batch did not name."""
        if member_id not in self._rows:
            return None
        if member_id not in self._opened:
            self._opened[member_id] = _opened(self._cipher, self._rows[member_id])
        return self._opened[member_id]


def rescore(
    session: Session,
    cipher: TemplateCipher,
    model_id: str,
    item: KioskCheckinItem,
    *,
    templates: BatchTemplates | None = None,
    embedded: NDArray[np.float32] | None = None,
) -> Rescored:
    """Score the server's embedding of the item's crop (`embedded`), else its probe, against
    the claimed member (see the module docstring).

    `templates`, when given, holds the members' templates read for the whole batch.
    """
    raw = embedded
    if raw is None and item.probe is not None:
        raw = np.frombuffer(base64.b64decode(item.probe), dtype="<f4")
    if raw is None:
        return Rescored(None, None)

    def of(member_id: uuid.UUID) -> list[NDArray[np.float32]]:
        known = templates(member_id) if templates is not None else None
        return known if known is not None else _templates(session, cipher, model_id, member_id)

    own = of(item.member_id)
    if not own:
        raise RescoreError("the server holds no face of this member for this recogniser")
    probe = _unit(raw, own[0].size)
    similarity = max(float(np.dot(t, probe)) for t in own)
    if similarity >= REPLAY_SIMILARITY:
        raise RescoreError(
            "the face embedding equals a stored template: a replayed template, not a live capture",
            suspicious=True,
        )
    margin = None
    if item.second_member_id is not None:
        others = of(item.second_member_id)
        if others:
            margin = similarity - max(float(np.dot(t, probe)) for t in others)
    return Rescored(similarity, margin, evidence=embedded is not None)


def _unit(values: NDArray[np.float32], dimension: int) -> NDArray[np.float32]:
    vector = np.asarray(values, dtype=np.float32)
    if vector.size != dimension:
        raise RescoreError(
            f"the probe has {vector.size} values; this recogniser's embeddings have {dimension}"
        )
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise RescoreError("the probe is not a usable embedding (zero or not finite)")
    return vector / norm


def _templates(
    session: Session, cipher: TemplateCipher, model_id: str, member_id: uuid.UUID
) -> list[NDArray[np.float32]]:
    query = select(FaceTemplate).where(
        FaceTemplate.member_id == member_id, FaceTemplate.model_id == model_id
    )
    return _opened(cipher, list(session.scalars(query)))


def _opened(cipher: TemplateCipher, rows: list[FaceTemplate]) -> list[NDArray[np.float32]]:
    vectors = []
    for row in rows:
        try:
            vectors.append(templates_crud.open_row(cipher, row))
        except TemplateDecryptionError:
            continue  # a damaged row is reported by the templates tools, not here
    return vectors
