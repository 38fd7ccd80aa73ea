"""Many enrolled members at once, written straight to the database (sealed templates and
gallery events as enrolment writes them), for gallery-sync sizes and benchmarks."""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy.orm import Session

from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import gallery, templates
from server.backend.models import FaceTemplate, Member

MINISTRIES = ("Choir", "Ushers", "Media", "Prayer", "Protocol", "Children")


def unit_vectors(count: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(count, 512)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def add_template(
    session: Session,
    cipher: TemplateCipher,
    member_id: uuid.UUID,
    vector: np.ndarray,
    model_id: str,
) -> FaceTemplate:
    row = FaceTemplate(
        **templates.sealed_columns(cipher, vector, member_id=member_id, model_id=model_id)
    )
    session.add(row)
    gallery.record_added(session=session, template=row)
    return row


def seed_enrolled(
    session: Session, cipher: TemplateCipher, *, members: int, model_id: str, start: int = 0
) -> list[uuid.UUID]:
    """`members` consenting members with one template each; returns their ids."""
    vectors = unit_vectors(members, seed=start + 1)
    rows = [
        Member(
            id=uuid.uuid4(),
            full_name=f"Member {start + i:05d} Mensah-Owusu",
            ministry=MINISTRIES[i % len(MINISTRIES)],
            consent_given=True,
        )
        for i in range(members)
    ]
    session.add_all(rows)
    session.flush()
    for row, vector in zip(rows, vectors, strict=True):
        add_template(session, cipher, row.id, vector, model_id)
    session.commit()
    return [row.id for row in rows]
