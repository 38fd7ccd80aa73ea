"""JWT handling: pinned HS256, typed tokens, time checks, rotating families."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from server.backend.core.security.tokens import TokenService
from tests.server.utils import admin_headers, backend_of, bearer, login, make_admin


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims_of(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _service_at(client: TestClient, moment: float) -> TokenService:
    """A token service sharing the app's secrets and store, with its clock at `moment`."""
    settings = backend_of(client).settings
    assert settings.jwt_access_secret and settings.jwt_refresh_secret
    return TokenService(
        access_secret=settings.jwt_access_secret,
        refresh_secret=settings.jwt_refresh_secret,
        access_ttl=settings.jwt_access_expiration,
        refresh_ttl=settings.jwt_refresh_expiration,
        families=backend_of(client).tokens.families,
        clock=lambda: moment,
    )


def test_me_answers_with_a_valid_access_token(client: TestClient) -> None:
    admin = make_admin(client)
    tokens = login(client, admin.email)
    response = client.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == admin.email
    assert "password_hash" not in response.json()


def test_missing_token_is_refused(client: TestClient) -> None:
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_alg_none_token_is_refused(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    claims = _claims_of(tokens["access_token"])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert client.get("/api/auth/me", headers=bearer(unsigned)).status_code == 401


# The forger's HS512 with our 48-character key draws PyJWT's key-length warning.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithm_with_the_right_key_is_refused(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    claims = _claims_of(tokens["access_token"])
    secret = backend_of(client).settings.jwt_access_secret
    forged = jwt.encode(claims, secret, algorithm="HS512")
    assert client.get("/api/auth/me", headers=bearer(forged)).status_code == 401


def test_tampered_token_is_refused(client: TestClient) -> None:
    victim = make_admin(client)
    tokens = login(client, make_admin(client).email)
    header, _payload, signature = tokens["access_token"].split(".")
    claims = _claims_of(tokens["access_token"])
    claims["sub"] = str(victim.id)
    tampered = f"{header}.{_b64(claims)}.{signature}"
    assert client.get("/api/auth/me", headers=bearer(tampered)).status_code == 401


def test_token_signed_with_another_key_is_refused(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    claims = _claims_of(tokens["access_token"])
    forged = jwt.encode(claims, "x" * 48, algorithm="HS256")
    assert client.get("/api/auth/me", headers=bearer(forged)).status_code == 401


def test_access_token_is_refused_as_refresh_token(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    response = client.post("/api/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


def test_refresh_token_is_refused_as_access_token(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    assert client.get("/api/auth/me", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_expired_access_token_is_refused(client: TestClient) -> None:
    admin = make_admin(client)
    old = _service_at(client, time.time() - 2 * 3600).issue(admin.id, admin.session_version)
    response = client.get("/api/auth/me", headers=bearer(old.access_token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_expired_refresh_token_is_refused(client: TestClient) -> None:
    admin = make_admin(client)
    settings = backend_of(client).settings
    moment = time.time() - settings.jwt_refresh_expiration - 60
    old = _service_at(client, moment).issue(admin.id, admin.session_version)
    response = client.post("/api/auth/refresh", json={"refresh_token": old.refresh_token})
    assert response.status_code == 401


def test_token_not_yet_valid_is_refused(client: TestClient) -> None:
    admin = make_admin(client)
    future = _service_at(client, time.time() + 3600).issue(admin.id, admin.session_version)
    assert client.get("/api/auth/me", headers=bearer(future.access_token)).status_code == 401


def test_small_clock_skew_is_tolerated(client: TestClient) -> None:
    admin = make_admin(client)
    skewed = _service_at(client, time.time() + 5).issue(admin.id, admin.session_version)
    assert client.get("/api/auth/me", headers=bearer(skewed.access_token)).status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_stops_working(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    rotated = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert client.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_reused_refresh_token_revokes_the_whole_family(client: TestClient) -> None:
    admin = make_admin(client)
    tokens = login(client, admin.email)
    other_session = login(client, admin.email)
    middle = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    fresh = client.post(
        "/api/auth/refresh", json={"refresh_token": middle.json()["refresh_token"]}
    ).json()
    # Two rotations back is no retry within the grace window: it is reuse.
    reuse = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]
    # Every token of the family is dead, the newest included...
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code
        == 401
    )
    assert client.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 401
    # ...but another sign-in of the same admin is untouched.
    assert (
        client.get("/api/auth/me", headers=bearer(other_session["access_token"])).status_code == 200
    )


def test_logout_ends_access_and_refresh_tokens(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    headers = bearer(tokens["access_token"])
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert (
        client.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )


def test_disabling_an_admin_ends_their_sessions(client: TestClient) -> None:
    admin = make_admin(client)
    tokens = login(client, admin.email)
    boss = admin_headers(client, role="super_admin")
    response = client.patch(f"/api/admins/{admin.id}", json={"is_active": False}, headers=boss)
    assert response.status_code == 200
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert (
        client.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )
    relogin = client.post(
        "/api/auth/login", json={"email": admin.email, "password": "correct horse battery staple"}
    )
    assert relogin.status_code == 401


def test_garbage_bearer_values_are_401_not_500(client: TestClient) -> None:
    for value in ("x", "a.b.c", "....", "%00%ff", "eyJ" + "A" * 5000):
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 401, value


def test_a_signed_in_request_checks_its_sign_in_in_one_query(client: TestClient) -> None:
    """Admin active, session version and token family live: every signed-in request pays
    for this, so it is one round trip to the database, not one per check."""
    headers = admin_headers(client)
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = backend_of(client).engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get("/api/auth/me", headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(statements) == 1, statements
    assert "refresh_families" in statements[0] and "admins" in statements[0]
