"""Factories for the kiosk-side tests: paired kiosks, members with faces, meetings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from tests.server.utils import backend_of, bearer

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
    """A meeting that began `started_minutes_ago` minutes ago, started unless told not to."""
    begins = datetime.now(UTC) - timedelta(minutes=started_minutes_ago)
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
