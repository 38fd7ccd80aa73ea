"""The admin client against a real backend (PostgreSQL + Redis) over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from kiosk.admin.auth import SERVICE
from kiosk.admin.client import AdminClient
from kiosk.errors import AdminError, SessionEndedError
from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import read_image_file
from kiosk.inference.quality import Purpose
from server.backend.core.config import Settings
from tests.kiosk.backend import FACES, LiveBackend, live_backend
from tests.server.utils import PASSWORD, make_admin


def embedding_of(engine: FaceEngine, name: str) -> list[float]:
    face = engine.embed_single(
        read_image_file(FACES / f"{name}.jpg").pixels, purpose=Purpose.ENROLMENT
    )
    assert face.embedding is not None
    return [float(x) for x in face.embedding.vector]


@pytest.fixture
def admin_client(backend: LiveBackend, keyring_dir: Path) -> Iterator[AdminClient]:
    client = AdminClient(backend.url)
    account = make_admin(backend.admin)
    client.sign_in(account.email, PASSWORD)
    yield client
    client.close()


def test_sign_in_keeps_tokens_in_the_keyring_and_sign_out_removes_them(
    admin_client: AdminClient,
) -> None:
    assert keyring.get_password(SERVICE, admin_client.base_url)
    assert admin_client.me()["role"] == "admin"
    admin_client.sign_out()
    assert keyring.get_password(SERVICE, admin_client.base_url) is None
    with pytest.raises(SessionEndedError, match="not signed in"):
        admin_client.members()


def test_wrong_password_shows_the_servers_message(backend: LiveBackend, keyring_dir: Path) -> None:
    account = make_admin(backend.admin)
    client = AdminClient(backend.url)
    with pytest.raises(AdminError) as caught:
        client.sign_in(account.email, "not the password")
    assert caught.value.status == 401
    assert "password" in str(caught.value).lower()
    assert not client.signed_in


def test_people_consent_enrolment_duplicate_and_withdrawal(
    admin_client: AdminClient, engine: FaceEngine
) -> None:
    ada = admin_client.create_member("Ada Obama", "Choir", email="ada@example.org")
    assert not ada["consent_given"]
    with pytest.raises(AdminError, match=r"[Cc]onsent"):
        admin_client.enrol_embedding(ada["id"], embedding_of(engine, "obama"), engine.model_id)
    assert admin_client.set_consent(ada["id"], True)["consent_given"]
    admin_client.enrol_embedding(ada["id"], embedding_of(engine, "obama"), engine.model_id)
    admin_client.enrol_embedding(ada["id"], embedding_of(engine, "obama2"), engine.model_id)
    found, count = admin_client.members("Ada", ministry="Choir")
    assert count == 1 and found[0]["id"] == ada["id"]

    ben = admin_client.create_member("Ben Twin", "Ushers")
    admin_client.set_consent(ben["id"], True)
    with pytest.raises(AdminError, match="already enrolled for Ada Obama") as dup:
        admin_client.enrol_embedding(ben["id"], embedding_of(engine, "obama3"), engine.model_id)
    assert dup.value.status == 409 and dup.value.details
    assert dup.value.details["member_id"] == ada["id"]
    assert admin_client.templates(ben["id"]) == []

    assert len(admin_client.templates(ada["id"])) == 2
    assert not admin_client.set_consent(ada["id"], False)["consent_given"]
    assert admin_client.templates(ada["id"]) == []


@pytest.fixture
def photo_backend(
    pg_settings: Settings, clean_env: None, shared_face_service: str
) -> Iterator[LiveBackend]:
    """A backend whose face-service (offline pack) reads enrolment photos."""
    update = {"face_model": "vectron", "face_service_url": shared_face_service}
    with live_backend(pg_settings.model_copy(update=update)) as live:
        yield live


def test_enrol_from_a_photo_file(photo_backend: LiveBackend, keyring_dir: Path) -> None:
    admin_client = AdminClient(photo_backend.url)
    admin_client.sign_in(make_admin(photo_backend.admin).email, PASSWORD)
    member = admin_client.create_member("Joe Biden", "Elders")
    admin_client.set_consent(member["id"], True)
    template = admin_client.enrol_photo(member["id"], FACES / "biden.jpg")
    assert template["member_id"] == member["id"]
    assert [t["id"] for t in admin_client.templates(member["id"])] == [template["id"]]
    admin_client.close()


@pytest.fixture
def short_lived(pg_settings: Settings, clean_env: None) -> Iterator[LiveBackend]:
    """A backend whose access tokens last two seconds."""
    settings = pg_settings.model_copy(update={"face_model": "vectron", "jwt_access_expiration": 2})
    with live_backend(settings) as live:
        yield live


def test_expired_access_token_is_refreshed_without_the_caller_noticing(
    short_lived: LiveBackend, keyring_dir: Path
) -> None:
    client = AdminClient(short_lived.url)
    client.auth._early = 0.0  # only the server's 401 tells this client the token expired
    client.sign_in(make_admin(short_lived.admin).email, PASSWORD)
    first = client.tokens.load()
    client.create_member("Early Bird", "Choir")
    time.sleep(2.2)
    assert client.members("Early")[1] == 1
    assert client.auth.refreshes == 1
    second = client.tokens.load()
    assert first and second and second.refresh != first.refresh
    client.close()


def test_expiring_token_is_refreshed_before_the_call(
    short_lived: LiveBackend, keyring_dir: Path
) -> None:
    client = AdminClient(short_lived.url)  # refreshes 30 s early: every call here refreshes
    client.sign_in(make_admin(short_lived.admin).email, PASSWORD)
    assert client.members()[1] >= 0
    assert client.auth.refreshes == 2  # `me()` inside sign_in, then `members()`
    client.close()


def test_a_session_ended_on_the_server_asks_to_sign_in_again(
    admin_client: AdminClient, backend: LiveBackend
) -> None:
    tokens = admin_client.tokens.load()
    assert tokens is not None
    response = backend.admin.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {tokens.access}"}
    )
    assert response.status_code == 204
    with pytest.raises(SessionEndedError, match="Sign in again"):
        admin_client.members()
    assert not admin_client.signed_in
