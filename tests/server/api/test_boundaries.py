"""The HTTP boundary: CORS for exactly FRONTEND_URL, clear 4xx for bad input, audit."""

from __future__ import annotations

import asyncio
import uuid

from fastapi.testclient import TestClient

from server.backend.api.limits import BodySizeLimit
from tests.server.utils import admin_headers

ORIGIN = "https://attendance.example.org"


def test_cors_allows_exactly_the_frontend_origin(client: TestClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = client.options("/api/auth/login", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    for stranger in (
        "https://evil.example.org",
        "https://attendance.example.org.evil.com",
        "null",
        "http://attendance.example.org",
    ):
        refused = client.options("/api/auth/login", headers={"Origin": stranger, **preflight})
        assert refused.status_code == 400, stranger
        assert "access-control-allow-origin" not in refused.headers
        simple = client.get("/health", headers={"Origin": stranger})
        assert "access-control-allow-origin" not in simple.headers


def test_malformed_json_is_a_clear_422(any_client: TestClient) -> None:
    headers = {**admin_headers(any_client), "Content-Type": "application/json"}
    for body in (b"{", b"not json", b"[]", b'{"full_name": 5}', b"\xff\xfe"):
        response = any_client.post("/api/members", content=body, headers=headers)
        assert response.status_code == 422, body
        assert "detail" in response.json()


def test_wrong_types_are_a_clear_422(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    cases = [
        ("/api/members", {"full_name": ["x"], "ministry": "Choir"}),
        ("/api/members", {"full_name": "x", "ministry": "Choir", "email": "not-an-email"}),
        ("/api/meetings", {"title": "t", "starts_at": "yesterday", "ends_at": 5}),
        (
            "/api/meetings",
            {
                "title": "t",
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T12:00:00Z",
                "radius_m": 10**30,
            },
        ),
        ("/api/auth/login", {"email": "a@example.org"}),
    ]
    for url, body in cases:
        response = any_client.post(url, json=body, headers=headers)
        assert response.status_code == 422, (url, body, response.text)
    assert any_client.get("/api/members", headers=headers).json()["count"] == 0


def test_nul_characters_are_refused_not_stored(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    response = any_client.post(
        "/api/members", json={"full_name": "A\x00B", "ministry": "Choir"}, headers=headers
    )
    assert response.status_code == 422
    assert any_client.get("/api/members", params={"q": "a\x00"}, headers=headers).status_code == 422


def test_oversized_bodies_are_refused_with_413(any_client: TestClient) -> None:
    headers = {**admin_headers(any_client), "Content-Type": "application/json"}
    huge = b'{"full_name": "' + b"x" * (3 * 1024 * 1024) + b'", "ministry": "Choir"}'
    assert any_client.post("/api/members", content=huge, headers=headers).status_code == 413

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 100_000

    streamed = any_client.post("/api/members", content=chunks(), headers=headers)  # type: ignore[arg-type]
    assert streamed.status_code == 413
    assert any_client.get("/api/members", headers=headers).json()["count"] == 0


def test_too_long_fields_are_refused(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    response = any_client.post(
        "/api/members", json={"full_name": "x" * 201, "ministry": "Choir"}, headers=headers
    )
    assert response.status_code == 422


def test_path_tricks_are_refused_without_leaking(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    # "../admins" resolves to /api/admins, which a plain admin may not read.
    assert any_client.get("/api/members/../admins", headers=headers).status_code == 403
    for path in (
        "/api/members/1%20OR%201=1",
        "/api/members/..%2F..%2Fetc%2Fpasswd",
        f"/api/members/{uuid.uuid4()}",
    ):
        response = any_client.get(path, headers=headers)
        assert response.status_code in (404, 422), (path, response.status_code)


def test_unknown_ids_are_404(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    missing = uuid.uuid4()
    assert (
        any_client.patch(
            f"/api/members/{missing}", json={"notes": "x"}, headers=headers
        ).status_code
        == 404
    )
    assert any_client.post(f"/api/meetings/{missing}/start", headers=headers).status_code == 404
    assert (
        any_client.delete(f"/api/members/{missing}/templates", headers=headers).status_code == 404
    )


def test_audit_log_records_who_did_what_and_is_admin_only(any_client: TestClient) -> None:
    assert any_client.get("/api/audit").status_code == 401
    boss = admin_headers(any_client, role="super_admin")
    created = any_client.post(
        "/api/admins", json={"email": "helper@example.org"}, headers=boss
    ).json()
    any_client.patch(f"/api/admins/{created['id']}", json={"is_active": False}, headers=boss)
    entries = any_client.get("/api/audit", headers=boss).json()["data"]
    actions = [e["action"] for e in entries]
    assert actions[:3] == ["admin.update", "admin.create", "auth.login"]
    assert entries[0]["target_id"] == created["id"]
    assert entries[0]["details"] == {"is_active": "False"}
    assert entries[0]["client_ip"] == "testclient"
    only = any_client.get("/api/audit", params={"action": "admin.create"}, headers=boss).json()
    assert only["count"] == 1


def test_body_limit_answers_400_to_a_malformed_content_length() -> None:
    sent: list[dict[str, object]] = []
    reached: list[bool] = []

    async def inner(scope: object, receive: object, send: object) -> None:
        reached.append(True)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"12abc")]}
    asyncio.run(BodySizeLimit(inner)(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert not reached


def test_text_that_is_not_unicode_is_a_422_not_a_500(any_client: TestClient) -> None:
    headers = {**admin_headers(any_client), "Content-Type": "application/json"}
    body = b'{"full_name": "A\\ud800B", "ministry": "Choir"}'  # a lone UTF-16 surrogate
    response = any_client.post("/api/members", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "full_name"]


def test_validation_errors_do_not_echo_the_input(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    secret_ish = "x" * 300
    response = any_client.post(
        "/api/members", json={"full_name": secret_ish, "ministry": "Choir"}, headers=headers
    )
    assert response.status_code == 422
    assert secret_ish not in response.text
    assert "at most 200 characters" in response.text
