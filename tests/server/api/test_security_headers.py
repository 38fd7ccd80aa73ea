"""Security headers on every response, no-store on token answers, and no API docs in
production (issue 13, hardening)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from tests.server.conftest import ClientFactory
from tests.server.utils import PASSWORD, make_admin


def assert_protected(response: httpx.Response) -> None:
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), where
    assert headers.get("referrer-policy") == "no-referrer", where


def _answers(client: TestClient) -> list[httpx.Response]:
    return [
        client.get("/health"),
        client.get("/checkin"),
        client.get("/api/auth/me"),  # 401
        client.get("/api/no-such-route"),  # 404
        client.post("/api/auth/login", json={"email": "x"}),  # 422
        client.post("/api/auth/login", content=b"x" * (3 * 1024 * 1024)),  # 413
        client.options(
            "/api/auth/login",
            headers={
                "Origin": "https://attendance.example.org",
                "Access-Control-Request-Method": "POST",
            },
        ),
    ]


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    answers = _answers(client)
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422, 413, 200]
    for answer in answers:
        assert_protected(answer)
        assert "strict-transport-security" not in answer.headers  # development


def test_token_answers_are_never_stored(client: TestClient) -> None:
    admin = make_admin(client)
    login = client.post("/api/auth/login", json={"email": admin.email, "password": PASSWORD})
    assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
    refresh = client.post(
        "/api/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refresh.status_code == 200 and refresh.headers["cache-control"] == "no-store"


@pytest.fixture
def production(make_client: ClientFactory, pg_settings: Settings) -> TestClient:
    return make_client(pg_settings.model_copy(update={"app_env": "production"}))


def test_production_adds_hsts_everywhere(production: TestClient) -> None:
    for answer in _answers(production):
        assert_protected(answer)
        assert answer.headers["strict-transport-security"].startswith("max-age=31536000")


def test_api_docs_are_off_in_production(production: TestClient, client: TestClient) -> None:
    assert production.get("/api/docs").status_code == 404
    assert production.get("/api/openapi.json").status_code == 404
    assert client.get("/api/openapi.json").status_code == 200  # development keeps them
