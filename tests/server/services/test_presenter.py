"""The presenter screen: a display link scoped to one meeting, a view with the big QR
code, title and count present that refreshes before the code expires, and the page."""

from __future__ import annotations

from datetime import datetime

import httpx
from fastapi.testclient import TestClient

from tests.server.attendance_utils import make_meeting, make_member, store_checkin
from tests.server.core.test_public_url import _assert_locked_down_page
from tests.server.utils import admin_headers, backend_of


def _display_key(client: TestClient, headers: dict[str, str], meeting_id: str) -> str:
    made = client.post(f"/api/meetings/{meeting_id}/display-link", headers=headers)
    assert made.status_code == 200, made.text
    url = httpx.URL(made.json()["url"])
    public = backend_of(client).settings.public_base_url
    assert str(url).startswith(f"{public}/present?meeting={meeting_id}#key=")
    return url.fragment.removeprefix("key=")


def test_a_display_link_shows_the_qr_title_and_count_and_refreshes_in_time(
    client: TestClient,
) -> None:
    admin = admin_headers(client)
    meeting = make_meeting(client, admin, location_name="Main hall", expected_ministries=["Choir"])
    ama = make_member(client, admin, "Ama Mensah")
    make_member(client, admin, "Kofi Boateng")
    key = _display_key(client, admin, meeting["id"])
    shown = client.get(f"/api/present/{meeting['id']}", headers={"X-Display-Key": key})
    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert (view["title"], view["location_name"], view["present"], view["expected"]) == (
        meeting["title"],
        "Main hall",
        0,
        2,
    )
    qr = view["qr"]
    public = backend_of(client).settings.public_base_url
    assert qr["url"].startswith(f"{public}/checkin?token=") and qr["svg"].startswith("<svg")
    token = httpx.URL(qr["url"]).params["token"]
    assert client.post("/api/qr/validate", json={"token": token}).status_code == 200
    left = (datetime.fromisoformat(qr["expires_at"]) - datetime.now().astimezone()).total_seconds()
    assert 0 < view["refresh_after_seconds"] < left
    store_checkin(client, meeting["id"], ama["id"], status="approved", similarity=0.7)
    again = client.get(f"/api/present/{meeting['id']}", headers={"X-Display-Key": key}).json()
    assert again["present"] == 1 and again["qr"]["url"] != qr["url"]


def test_a_display_key_opens_its_own_meeting_and_nothing_else(client: TestClient) -> None:
    admin = admin_headers(client)
    first, second = make_meeting(client, admin), make_meeting(client, admin)
    key = _display_key(client, admin, first["id"])
    other = client.get(f"/api/present/{second['id']}", headers={"X-Display-Key": key})
    assert other.status_code == 401 and "another meeting" in other.json()["detail"]
    assert client.get("/api/meetings", headers={"X-Display-Key": key}).status_code == 401
    assert client.get(f"/api/present/{first['id']}").status_code == 401
    code = client.get(f"/api/meetings/{first['id']}/qr", headers=admin).json()["token"]
    forged = client.get(f"/api/present/{first['id']}", headers={"X-Display-Key": code})
    assert forged.status_code == 401
    by_admin = client.get(f"/api/present/{first['id']}", headers=admin)
    assert by_admin.status_code == 200 and by_admin.json()["qr"] is not None


def test_an_ended_meeting_shows_no_code_and_says_what_is_possible(client: TestClient) -> None:
    admin = admin_headers(client)
    meeting = make_meeting(client, admin)
    key = _display_key(client, admin, meeting["id"])
    client.post(f"/api/meetings/{meeting['id']}/end", headers=admin)
    view = client.get(f"/api/present/{meeting['id']}", headers={"X-Display-Key": key}).json()
    assert view["qr"] is None and view["status"] == "ended"
    assert "reopen it" in view["message"] and view["refresh_after_seconds"] == 15


def test_the_page_is_static_locked_down_and_calls_what_exists(client: TestClient) -> None:
    page = client.get("/present", params={"meeting": "<script>alert(1)</script>"})
    _assert_locked_down_page(client, page)
    assert (
        "alert(1)" not in page.text
        and "img-src 'self' blob:" in page.headers["content-security-policy"]
    )
    script = client.get("/static/present.js").text
    assert '"/api/present/"' in script and '"X-Display-Key"' in script
    assert "refresh_after_seconds" in script and "location.hash" in script
    spec = client.get("/api/openapi.json").json()
    assert "/api/present/{meeting_id}" in spec["paths"]
