"""The presenter screen and the set-password page in a real browser (Debian's Chromium
driven by Playwright) against a live backend: the QR code on screen decodes to a working
check-in link, the count follows check-ins, and the code renews before it expires."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from kiosk.capture.qr import read_qr_codes
from server.backend.core.config import Settings
from server.backend.main import create_app
from tests.server.attendance_utils import make_meeting, make_member, store_checkin
from tests.server.conftest import ClientFactory
from tests.server.live import serve
from tests.server.utils import FAST_ARGON2, PASSWORD, FakeMailer, admin_headers, login, make_admin

pytestmark = [pytest.mark.network, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class Site:
    url: str
    client: TestClient
    headers: dict[str, str]
    violations: list[str] = field(default_factory=list)


@pytest.fixture
def site(make_client: ClientFactory, pg_settings: Settings) -> Iterator[Site]:
    client = make_client(pg_settings)
    with serve(create_app(pg_settings, password_params=FAST_ARGON2)) as url:
        yield Site(url, client, admin_headers(client))


@pytest.fixture
def browser_page(site: Site) -> Iterator[Page]:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
            page.on("console", lambda message: _note_csp(site, message))
            yield page
        finally:
            browser.close()


def _note_csp(site: Site, message: ConsoleMessage) -> None:
    if "Content Security Policy" in message.text:
        site.violations.append(message.text)


def on_screen_code(page: Page) -> str:
    """The QR code the screen shows, read from a screenshot as a phone camera would."""
    shot = page.locator("#qr").screenshot()
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded = read_qr_codes(image)
    assert decoded, "no readable QR code on screen"
    return decoded[0]


def test_the_presenter_screen_shows_a_working_code_that_renews_itself(
    site: Site, browser_page: Page
) -> None:
    meeting = make_meeting(site.client, site.headers, qr_rotation_seconds=10)
    ama = make_member(site.client, site.headers, "Ama Mensah")
    link = site.client.post(f"/api/meetings/{meeting['id']}/display-link", headers=site.headers)
    shown = httpx.URL(link.json()["url"])
    page = browser_page
    page.goto(f"{site.url}/present?{shown.query.decode()}#{shown.fragment}")
    page.wait_for_function("() => document.querySelector('#qr').src.startsWith('blob:')")
    assert page.locator("#title").inner_text() == meeting["title"]
    assert page.locator("#count").inner_text() == "0 present of 1 expected"
    first = on_screen_code(page)
    token = httpx.URL(first).params["token"]
    assert first.endswith(f"/checkin?token={token}")
    assert site.client.post("/api/qr/validate", json={"token": token}).status_code == 200

    store_checkin(site.client, meeting["id"], ama["id"], status="approved", similarity=0.7)
    page.wait_for_function(
        "() => document.querySelector('#count').textContent.startsWith('1 present')",
        timeout=25_000,
    )
    second = on_screen_code(page)
    renewed = httpx.URL(second).params["token"]
    assert renewed != token
    assert site.client.post("/api/qr/validate", json={"token": renewed}).status_code == 200
    assert site.violations == []


def test_the_set_password_page_sets_the_password_in_a_browser(
    site: Site, browser_page: Page, mailer: FakeMailer
) -> None:
    admin = make_admin(site.client, password=None)
    site.client.post("/api/auth/password/request", json={"email": admin.email})
    code = mailer.last_code(admin.email)
    page = browser_page
    page.goto(f"{site.url}/auth/set-password?token={code}")
    assert page.locator("#token").input_value() == code
    assert "token" not in page.url  # the code leaves the address bar and history
    page.locator("#password").fill(PASSWORD)
    page.locator("#repeat").fill(PASSWORD + "!")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_function("() => document.querySelector('#message').textContent !== ''")
    assert "differ" in page.locator("#message").inner_text()
    page.locator("#repeat").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_function(
        "() => document.querySelector('#message').textContent.startsWith('Your password is set')"
    )
    said = page.locator("#message").inner_text()
    assert "in the Sonta Attendance app on your computer (sonta admin-app)" in said
    assert f"{site.url}/present" in said  # where to sign in, not only that one can
    assert login(site.client, admin.email)["access_token"]
    assert site.violations == []


def test_a_signed_in_admin_opens_the_presenter_screen_and_picks_the_meeting(
    site: Site, browser_page: Page
) -> None:
    meeting = make_meeting(site.client, site.headers, title="Leaders' prayer")
    admin = make_admin(site.client)
    page = browser_page
    page.goto(f"{site.url}/present")
    page.locator("#email").fill(admin.email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#meeting").select_option(meeting["id"])
    page.get_by_role("button", name="Show its QR code").click()
    page.wait_for_function("() => document.querySelector('#qr').src.startsWith('blob:')")
    assert page.locator("#title").inner_text() == "Leaders' prayer"
    assert f"meeting={meeting['id']}" in page.url
    token = httpx.URL(on_screen_code(page)).params["token"]
    assert site.client.post("/api/qr/validate", json={"token": token}).status_code == 200
    assert site.violations == []


def test_opening_the_emailed_link_shows_the_code_for_the_app_without_using_it(
    site: Site, browser_page: Page, mailer: FakeMailer
) -> None:
    admin = make_admin(site.client)
    site.client.post("/api/auth/magic-link", json={"email": admin.email})
    code = mailer.last_code(admin.email)
    page = browser_page
    page.goto(f"{site.url}/auth/magic?token={code}")
    page.wait_for_selector("#for-app:not(.hidden)")
    assert page.locator("#code").inner_text() == code
    assert "token" not in page.url  # the code leaves the address bar and history
    assert "Code field of its sign-in screen" in page.locator("#for-app").inner_text()
    page.get_by_role("button", name="Copy the code").click()
    page.wait_for_function("() => document.querySelector('#message').textContent !== ''")
    assert (
        "Ctrl+C" in page.locator("#message").inner_text()
        or "Copied" in page.locator("#message").inner_text()
    )
    # Opening the page used nothing: the desktop app still signs in with the code.
    used = site.client.post("/api/auth/magic-link/verify", json={"token": code})
    assert used.status_code == 200, used.text

    # Asked to, the page signs this browser in instead (the code then works no more).
    site.client.post("/api/auth/magic-link", json={"email": admin.email})
    second = mailer.last_code(admin.email)
    page.goto(f"{site.url}/auth/magic?token={second}")
    page.get_by_role("button", name="Sign in here").click()
    page.wait_for_function(
        "() => document.querySelector('#message').textContent === 'You are signed in.'"
    )
    assert page.locator("#next").is_visible() and not page.locator("#for-app").is_visible()
    again = site.client.post("/api/auth/magic-link/verify", json={"token": second})
    assert again.status_code == 401
    assert site.violations == []
