"""Enrolling a face from a photo, through the real face-service and its enrolment gates:
by the API (`POST /api/members/{id}/templates/photo`) and by `sonta admin enrol`."""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from server.backend.core.config import Settings
from server.backend.models import FaceTemplate
from sonta.cli import main
from tests.kiosk.conftest import photo, photo_path
from tests.server.attendance_utils import make_member
from tests.server.conftest import ClientFactory
from tests.server.utils import admin_headers, session_of

pytestmark = [pytest.mark.model, pytest.mark.network]


@pytest.fixture
def client(
    make_client: ClientFactory, pg_settings: Settings, shared_face_service: str
) -> TestClient:
    update = {"face_model": "vectron", "face_service_url": shared_face_service}
    return make_client(pg_settings.model_copy(update=update))


def _consent(client: TestClient, headers: dict[str, str], member_id: str) -> None:
    url = f"/api/members/{member_id}/consent"
    assert client.put(url, json={"given": True}, headers=headers).status_code == 200


def _send(client: TestClient, headers: dict[str, str], member_id: str, name: str) -> httpx.Response:
    photo = photo_path(name).read_bytes()
    return client.post(
        f"/api/members/{member_id}/templates/photo",
        files={"photo": (f"{name}.jpg", photo, "image/jpeg")},
        headers=headers,
    )


def test_a_photo_enrols_the_face_and_is_not_kept(client: TestClient) -> None:
    admin = admin_headers(client)
    obama = make_member(client, admin, "Barack Obama")
    _consent(client, admin, obama["id"])
    enrolled = _send(client, admin, obama["id"], "obama")
    assert enrolled.status_code == 201, enrolled.text
    listed = client.get(f"/api/members/{obama['id']}/templates", headers=admin).json()
    assert [t["id"] for t in listed] == [enrolled.json()["id"]]
    with session_of(client) as session:
        [row] = session.scalars(select(FaceTemplate)).all()
    # What is stored is one sealed 512-float embedding, nothing the size of a photo.
    assert len(row.ciphertext) == 512 * 4 + 16


def test_the_enrolment_gates_answer_with_their_reasons(client: TestClient) -> None:
    admin = admin_headers(client)
    member = make_member(client, admin, "Group Photo")
    _consent(client, admin, member["id"])
    group = _send(client, admin, member["id"], "t1")
    assert group.status_code == 422, group.text
    detail = group.json()["detail"]
    assert "faces" in detail["message"] and detail["reasons"]
    assert client.get(f"/api/members/{member['id']}/templates", headers=admin).json() == []


def test_no_consent_or_someone_elses_face_is_refused(client: TestClient) -> None:
    admin = admin_headers(client)
    obama = make_member(client, admin, "Barack Obama")
    refused = _send(client, admin, obama["id"], "obama")
    assert refused.status_code == 409 and "consent" in refused.json()["detail"]
    _consent(client, admin, obama["id"])
    assert _send(client, admin, obama["id"], "obama").status_code == 201
    other = make_member(client, admin, "Not Obama")
    _consent(client, admin, other["id"])
    taken = _send(client, admin, other["id"], "obama2")
    assert taken.status_code == 409
    assert "already enrolled for Barack Obama" in taken.json()["detail"]["message"]


def test_sonta_admin_enrol_enrols_good_photos_and_explains_the_rest(
    client: TestClient,
    server_env: dict[str, str],
    shared_face_service: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = admin_headers(client)
    biden = make_member(client, admin, "Joe Biden")
    env = {**server_env, "FACE_MODEL": "vectron", "FACE_SERVICE_URL": shared_face_service}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    photos = [str(photo_path("biden")), str(photo_path("t1")), "missing.jpg"]
    code = biden["member_code"].lower()
    assert main(["admin", "enrol", code, *photos]) == 1
    assert "consent" in capsys.readouterr().err
    assert main(["admin", "enrol", code, *photos, "--consent"]) == 1
    said = capsys.readouterr().err
    assert "Recorded biometric consent for Joe Biden" in said
    assert "biden.jpg: enrolled for Joe Biden" in said
    assert "t1.jpg: not enrolled" in said and "\n    - " in said
    assert "missing.jpg: cannot be read" in said
    assert "1 of 3 photo(s) enrolled" in said
    listed = client.get(f"/api/members/{biden['id']}/templates", headers=admin).json()
    assert len(listed) == 1
    unknown = main(["admin", "enrol", "nobody@example.org", str(photo_path("biden"))])
    assert unknown == 1 and "No member has" in capsys.readouterr().err


def test_sonta_admin_enrol_scales_a_full_size_phone_photo_down_itself(
    client: TestClient,
    server_env: dict[str, str],
    shared_face_service: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    admin = admin_headers(client)
    biden = make_member(client, admin, "Joe Biden")
    env = {**server_env, "FACE_MODEL": "vectron", "FACE_SERVICE_URL": shared_face_service}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # A phone's 3061x4600 photo: more pixels than the enrolment upload takes.
    big = tmp_path / "phone.jpg"
    assert cv2.imwrite(str(big), cv2.resize(photo("biden"), (3061, 4600)))
    assert main(["admin", "enrol", biden["member_code"], str(big), "--consent"]) == 0
    assert "phone.jpg: enrolled for Joe Biden" in capsys.readouterr().err
    assert len(client.get(f"/api/members/{biden['id']}/templates", headers=admin).json()) == 1
