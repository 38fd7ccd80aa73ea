"""PUBLIC_URL: the address in QR codes and emailed links (required in production, the
LAN address in development, said at start), and the pages those links open."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi.testclient import TestClient

from server.backend.core.config import Settings, load_settings
from server.backend.core.public_url import lan_address
from server.backend.errors import ConfigError
from tests.server.attendance_utils import make_meeting
from tests.server.conftest import ClientFactory
from tests.server.core.test_config import GOOD
from tests.server.utils import PASSWORD, FakeMailer, admin_headers, login, make_admin

PUBLIC = "https://attendance.example.org/sonta"


def test_production_requires_a_public_url() -> None:
    env = {k: v for k, v in GOOD.items() if k != "PUBLIC_URL"}
    with pytest.raises(ConfigError, match="PUBLIC_URL is missing"):
        load_settings(env)
    with pytest.raises(ConfigError, match="PUBLIC_URL must be an http"):
        load_settings({**GOOD, "PUBLIC_URL": "attendance.example.org"})
    assert load_settings(GOOD).public_base_url == GOOD["PUBLIC_URL"].rstrip("/")


def test_the_meeting_qr_carries_the_public_url_not_the_address_used(
    make_client: ClientFactory, pg_settings: Settings
) -> None:
    client = make_client(pg_settings.model_copy(update={"public_url": PUBLIC + "/"}))
    headers = admin_headers(client)
    meeting = make_meeting(client, headers)
    code = client.get(f"/api/meetings/{meeting['id']}/qr", headers=headers).json()
    assert code["url"].startswith(f"{PUBLIC}/checkin?token=")
    assert httpx.URL(code["url"]).params["token"] == code["token"]


@pytest.mark.parametrize(
    ("public", "camera"),
    [
        (PUBLIC, "live"),
        ("http://192.168.1.20:3000", "video"),
        ("http://attendance.example.org", "video"),
        ("http://localhost:3000", "live"),
    ],
)
def test_the_admin_sees_whether_phones_get_the_live_camera_or_record_a_video(
    make_client: ClientFactory, pg_settings: Settings, public: str, camera: str
) -> None:
    """Issue 24: browsers give a page the camera only over https (or on localhost)."""
    client = make_client(pg_settings.model_copy(update={"public_url": public}))
    headers = admin_headers(client)
    meeting = make_meeting(client, headers)
    code = client.get(f"/api/meetings/{meeting['id']}/qr", headers=headers).json()
    assert code["phone_camera"] == camera
    if camera == "video":
        assert "record a short selfie video" in code["phone_camera_note"]
        assert "https" in code["phone_camera_note"] and "README" in code["phone_camera_note"]
    else:
        assert "live camera" in code["phone_camera_note"]


def test_development_defaults_to_the_lan_address_and_says_so(
    make_client: ClientFactory, embedded_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert embedded_settings.public_url is None
    with caplog.at_level(logging.INFO):
        client = make_client(embedded_settings)
    base = f"http://{lan_address()}:{embedded_settings.port}"
    assert f"Links in QR codes and emails use {base}" in caplog.text
    assert "set PUBLIC_URL" in caplog.text
    headers = admin_headers(client)
    meeting = make_meeting(client, headers)
    code = client.get(f"/api/meetings/{meeting['id']}/qr", headers=headers).json()
    assert code["url"].startswith(f"{base}/checkin?token=")


def _link(mailer: FakeMailer, to: str) -> httpx.URL:
    [text] = [text for recipient, _s, text in mailer.sent if recipient == to]
    found = re.search(r"https?://\S+", text)
    assert found, text
    return httpx.URL(found.group(0))


def test_the_first_admins_set_password_link_opens_a_page_that_works(
    make_client: ClientFactory, pg_settings: Settings, mailer: FakeMailer
) -> None:
    update = {"super_admin_email": "pastor@example.org", "public_url": PUBLIC}
    client = make_client(pg_settings.model_copy(update=update))
    link = _link(mailer, "pastor@example.org")
    assert str(link).startswith(f"{PUBLIC}/auth/set-password?token=")
    page = client.get("/auth/set-password", params=link.params)
    _assert_locked_down_page(client, page)
    assert 'src="/static/set-password.js"' in page.text
    script = client.get("/static/set-password.js").text
    assert "/api/auth/password/set" in script and "JSON.stringify({token, password})" in script
    # What the script sends, sent here: the link's token and a new password.
    body = {"token": link.params["token"], "password": PASSWORD}
    assert client.post("/api/auth/password/set", json=body).status_code == 204
    assert login(client, "pastor@example.org")["access_token"]


def test_the_magic_link_opens_a_sign_in_page(
    make_client: ClientFactory, pg_settings: Settings, mailer: FakeMailer
) -> None:
    client = make_client(pg_settings.model_copy(update={"public_url": PUBLIC}))
    admin_email = make_admin(client).email
    client.post("/api/auth/magic-link", json={"email": admin_email})
    link = _link(mailer, admin_email)
    assert str(link).startswith(f"{PUBLIC}/auth/magic?token=")
    page = client.get("/auth/magic", params=link.params)
    _assert_locked_down_page(client, page)
    script = client.get("/static/magic.js").text
    assert "/api/auth/magic-link/verify" in script
    signed_in = client.post("/api/auth/magic-link/verify", json={"token": link.params["token"]})
    assert signed_in.status_code == 200 and signed_in.json()["access_token"]


def _assert_locked_down_page(client: TestClient, page: httpx.Response) -> None:
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text and "style=" not in page.text
    for asset in re.findall(r'(?:src|rel="stylesheet" href)="([^"]+)"', page.text):
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200


@pytest.mark.parametrize("name", ["../config.py", "..%2Fconfig.py", ".hidden", "missing.js"])
def test_only_the_pages_own_files_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/static/{name}").status_code == 404


def test_every_page_names_an_icon_the_server_has(client: TestClient) -> None:
    """Browsers ask for /favicon.ico on every page; a 404 there filled the access log."""
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    for path in ("/auth/magic", "/auth/set-password", "/present"):
        assert '<link rel="icon" href="/favicon.ico"' in client.get(path).text, path
