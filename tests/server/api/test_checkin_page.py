"""The phone check-in page: served to anyone, echoes nothing from the request, locked down
by its CSP, and talks to endpoints and fields that exist."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_the_page_echoes_nothing_and_is_locked_down(any_client: TestClient) -> None:
    probe = "<script>alert(1)</script>"
    response = any_client.get("/checkin", params={"token": probe})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert probe not in response.text and "alert(1)" not in response.text
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert 'capture="user"' in response.text and 'accept="image/*"' in response.text
    assert "unsafe-inline" not in csp and "<script>" not in response.text


def test_the_page_posts_what_the_api_expects(any_client: TestClient) -> None:
    page = any_client.get("/checkin/assets/checkin.js").text
    spec = any_client.get("/api/openapi.json").json()
    called = set(re.findall(r'post\("(/api/[^"]+)"', page))
    assert called == {"/api/qr/scan", "/api/checkin/phone"}
    assert called <= set(spec["paths"])
    operation = spec["paths"]["/api/checkin/phone"]["post"]
    ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    fields = set(spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])
    sent = set(re.findall(r'form\.append\("([a-z_]+)"', page))
    assert sent == {
        "ticket",
        "email",
        "member_code",
        "selfie",
        "latitude",
        "longitude",
        "accuracy_m",
        "turn",
        "turn_ms",
        "video",
        "device",
    }
    assert sent <= fields
