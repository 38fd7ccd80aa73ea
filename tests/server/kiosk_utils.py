"""Factories for the kiosk-side tests: paired kiosks, members with faces, meetings."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from server.backend.crud import templates as templates_crud
from server.backend.models import FaceTemplate
from tests.server.utils import admin_headers, backend_of, bearer

RNG = np.random.default_rng(11)


@dataclass(frozen=True)
class PairedKiosk:
    id: str
    credential: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.credential)


def pair_kiosk(client: TestClient, admin: dict[str, str], name: str = "Front door") -> PairedKiosk:
    """Pair through a one-time code, the way an operator does it on a new kiosk."""
    code = client.post("/api/kiosks/pairing-codes", json={"name": name}, headers=admin)
    assert code.status_code == 201, code.text
    paired = client.post("/api/kiosks/pair", json={"code": code.json()["code"]})
    assert paired.status_code == 201, paired.text
    body = paired.json()
    return PairedKiosk(body["kiosk"]["id"], body["credential"])


def random_face() -> list[float]:
    vector = RNG.normal(size=512)
    return [float(x) for x in vector / np.linalg.norm(vector)]


def make_member(
    client: TestClient,
    admin: dict[str, str],
    name: str,
    *,
    ministry: str = "Choir",
    enrol: bool = True,
) -> str:
    """A member with consent and, unless `enrol` is False, one enrolled random face."""
    response = client.post(
        "/api/members", json={"full_name": name, "ministry": ministry}, headers=admin
    )
    assert response.status_code == 201, response.text
    member_id = str(response.json()["id"])
    url = f"/api/members/{member_id}"
    assert client.put(f"{url}/consent", json={"given": True}, headers=admin).status_code == 200
    if enrol:
        enrol_face(client, admin, member_id)
    return member_id


def enrol_face(client: TestClient, admin: dict[str, str], member_id: str) -> str:
    model_id = backend_of(client).face_model.model_id
    response = client.post(
        f"/api/members/{member_id}/templates",
        json={"embedding": random_face(), "model_id": model_id},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def make_meeting(
    client: TestClient,
    admin: dict[str, str],
    *,
    start: bool = True,
    started_minutes_ago: int = 10,
    late_after_minutes: int = 15,
    **fields: Any,
) -> str:
    """A meeting that began `started_minutes_ago` minutes ago, started unless told not to.

    Listing nobody, it is opened to everyone (kiosks get every active member's face),
    as an admin ticks it for an all-comers meeting; pass `open_to_everyone=False` to
    leave it undecided.
    """
    begins = datetime.now(UTC) - timedelta(minutes=started_minutes_ago)
    lists = fields.get("expected_ministries") or fields.get("expected_member_ids")
    fields.setdefault("open_to_everyone", not lists)
    body = {
        "title": "Sonta Heads meeting",
        "starts_at": begins.isoformat(),
        "ends_at": (begins + timedelta(hours=2)).isoformat(),
        "late_after": (begins + timedelta(minutes=late_after_minutes)).isoformat(),
        **fields,
    }
    response = client.post("/api/meetings", json=body, headers=admin)
    assert response.status_code == 201, response.text
    meeting_id = str(response.json()["id"])
    if start:
        started = client.post(f"/api/meetings/{meeting_id}/start", headers=admin)
        assert started.status_code == 200, started.text
    return meeting_id


def model_id(client: TestClient) -> str:
    return backend_of(client).face_model.model_id


def member_templates(client: TestClient, member_id: str) -> list[np.ndarray]:
    """The member's stored templates, opened with the server's key."""
    backend = backend_of(client)
    with backend.sessions() as session:
        rows = session.scalars(
            select(FaceTemplate).where(FaceTemplate.member_id == uuid.UUID(member_id))
        ).all()
        return [templates_crud.open_row(backend.cipher, row) for row in rows]


def probe_for(client: TestClient, member_id: str, similarity: float) -> str:
    """A probe embedding (the wire's base64 float32) at `similarity` to the member's face.

    The member gets a face first if they have none: a probe is scored against one.
    """
    templates = member_templates(client, member_id)
    if not templates:
        enrol_face(client, admin_headers(client), member_id)
        templates = member_templates(client, member_id)
    face = templates[0]
    other = RNG.normal(size=face.size)
    other -= face * float(other @ face)
    other /= np.linalg.norm(other)
    vector = similarity * face + np.sqrt(max(0.0, 1 - similarity**2)) * other
    return base64.b64encode(vector.astype("<f4").tobytes()).decode()
