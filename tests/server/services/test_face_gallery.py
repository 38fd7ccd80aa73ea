"""The backend's in-memory gallery: decrypted once, caught up from the gallery event log
by every replica, and what the phone flow searches."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from kiosk.inference.faces import Embedding
from server.backend.core.context import Backend
from server.backend.core.security.templates import SealedTemplate, TemplateCipher
from server.backend.models import GalleryEvent, Member
from server.backend.services import phone_checkin
from server.backend.services.face_gallery import Galleries, ServerGallery
from tests.server.utils import admin_headers, backend_of

RNG = np.random.default_rng(11)


class CountingCipher(TemplateCipher):
    """The real cipher, counting how many templates it decrypts."""

    opened = 0

    def open(self, sealed: SealedTemplate, **ids: Any) -> Any:
        self.opened += 1
        return super().open(sealed, **ids)


def counting_cipher(backend: Backend) -> CountingCipher:
    settings = backend.settings
    assert settings.embedding_encryption_key is not None
    return CountingCipher(
        settings.embedding_encryption_key, previous=settings.previous_embedding_keys()
    )


def face(base: np.ndarray | None = None, noise: float = 0.3) -> np.ndarray:
    vector = RNG.normal(size=512) if base is None else base + noise * RNG.normal(size=512) / 22.6
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def member(client: TestClient, headers: dict[str, str], name: str) -> str:
    body = {"full_name": name, "ministry": "Choir"}
    created = client.post("/api/members", json=body, headers=headers).json()
    client.put(f"/api/members/{created['id']}/consent", json={"given": True}, headers=headers)
    return str(created["id"])


def enrol(client: TestClient, headers: dict[str, str], member_id: str, vector: np.ndarray) -> str:
    response = client.post(
        f"/api/members/{member_id}/templates",
        json={"embedding": vector.tolist(), "model_id": backend_of(client).face_model.model_id},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def people(client: TestClient) -> dict[str, Any]:
    headers = admin_headers(client)
    faces = {name: face() for name in ("ama", "kofi", "esi")}
    ids = {name: member(client, headers, name.title()) for name in faces}
    for name, vector in faces.items():
        for _ in range(2):
            enrol(client, headers, ids[name], face(vector))
    return {"headers": headers, "faces": faces, "ids": ids}


def test_phone_match_decrypts_each_template_once_not_on_every_request(
    client: TestClient, people: dict[str, Any]
) -> None:
    backend = backend_of(client)
    cipher = counting_cipher(backend)
    backend.galleries = Galleries(cipher)
    with backend.sessions() as session:
        ama = session.get(Member, uuid.UUID(people["ids"]["ama"]))
        assert ama is not None
        probe = face(people["faces"]["ama"])
        first = phone_checkin.match(backend, session, ama, probe)
        assert cipher.opened == 6  # three people, two templates each: loaded once
        for _ in range(5):
            again = phone_checkin.match(backend, session, ama, probe)
        assert cipher.opened == 6  # before: six more decryptions per request
    assert first.person_id == again.person_id == people["ids"]["ama"]
    assert first.band.value == "accept" and first.margin is not None and first.margin > 0.3


def test_another_members_face_is_refused_from_the_gallery(
    client: TestClient, people: dict[str, Any]
) -> None:
    backend = backend_of(client)
    with backend.sessions() as session:
        ama = session.get(Member, uuid.UUID(people["ids"]["ama"]))
        assert ama is not None
        decision = phone_checkin.match(backend, session, ama, face(people["faces"]["kofi"]))
    assert decision.band.value == "reject" and decision.reason == "another person"


def test_every_replica_catches_up_from_the_event_log(
    client: TestClient, people: dict[str, Any]
) -> None:
    """Two backend processes' galleries; changes go through the API of one of them."""
    backend, headers = backend_of(client), people["headers"]
    cipher = counting_cipher(backend)
    replicas = [ServerGallery(backend.face_model.model_id, cipher) for _ in range(2)]
    model = backend.face_model.model_id

    def best(replica: ServerGallery, vector: np.ndarray) -> str | None:
        with backend.sessions() as session:
            found = replica.current(session).search(Embedding(vector, model), k=1)
        return found[0].person_id if found else None

    yaa_face = face()
    assert {best(r, yaa_face) for r in replicas} <= set(people["ids"].values())
    loaded = cipher.opened
    yaa = member(client, headers, "Yaa")
    template = enrol(client, headers, yaa, yaa_face)
    assert [best(r, yaa_face) for r in replicas] == [yaa, yaa]
    assert cipher.opened == loaded + 2  # each replica decrypted only the new template
    client.delete(f"/api/members/{yaa}/templates/{template}", headers=headers)
    assert yaa not in {best(r, yaa_face) for r in replicas}
    kofi = people["ids"]["kofi"]
    assert client.delete(f"/api/members/{kofi}/templates", headers=headers).status_code == 200
    with backend.sessions() as session:
        assert all(kofi not in r.current(session).person_ids for r in replicas)


def test_a_replica_behind_a_pruned_log_reloads_whole(
    client: TestClient, people: dict[str, Any]
) -> None:
    backend, headers = backend_of(client), people["headers"]
    replica = ServerGallery(backend.face_model.model_id, backend.cipher)
    with backend.sessions() as session:
        assert len(replica.current(session)) == 6
    yaa = member(client, headers, "Yaa")
    enrol(client, headers, yaa, face())
    enrol(client, headers, yaa, face())
    with backend.sessions() as session:  # the events the replica has not seen are pruned
        newest = session.scalar(select(func.max(GalleryEvent.id)))
        session.execute(delete(GalleryEvent).where(GalleryEvent.id < newest))
        session.commit()
        gallery = replica.current(session)
    assert len(gallery) == 8 and yaa in gallery.person_ids
