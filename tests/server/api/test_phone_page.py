"""The phone check-in page in a real browser: Debian's Chromium driven by Playwright, its
fake camera playing videos made from real photos, against a live backend and a real
face-service with the offline pack.

Screenshots of each state at 360x740 and 414x896 are written to the test's folder
(`pytest --basetemp=DIR` keeps them somewhere known) for a person to look at.
"""

from __future__ import annotations

import base64
import re
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    sync_playwright,
)

from kiosk.inference.images import read_image_file
from server.backend.core.config import Settings
from server.backend.core.security.qr import QrSigner
from server.backend.main import create_app
from server.backend.services import phone_guard
from tests.kiosk.conftest import photo_path
from tests.server.attendance_utils import make_meeting, make_member
from tests.server.conftest import ClientFactory
from tests.server.live import serve
from tests.server.services.test_phone_checkin import enrol, face_service_url  # noqa: F401  (fixture)
from tests.server.services.test_phone_liveness import warp_beating_the_nose_cue
from tests.server.services.test_phone_video import turning
from tests.server.services.test_uploads import tiny_png
from tests.server.utils import FAST_ARGON2, admin_headers, backend_of
from tests.utils.clips import encode
from tests.utils.turns import handheld
from tests.utils.y4m import Frame, fit, hold, swung, write_y4m

pytestmark = [pytest.mark.model, pytest.mark.network, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VENUE = {"latitude": 5.6037, "longitude": -0.1870, "radius_m": 100, "location_name": "Hall A"}
INSIDE = {"latitude": 5.6039, "longitude": -0.1871}
PHONES = {"small": (360, 740), "large": (414, 896)}
ANSWER_TIMEOUT_MS = 30_000


def picture(name: str, *, mirror: bool = False) -> Frame:
    pixels = read_image_file(photo_path(name)).pixels
    return fit(np.ascontiguousarray(pixels[:, ::-1]) if mirror else pixels)


@dataclass
class Site:
    """A live backend for the browser, and a test client on the same database to seed it."""

    url: str
    client: TestClient
    headers: dict[str, str]
    settings: Settings
    obama: dict[str, Any]
    shots: Path
    violations: list[str] = field(default_factory=list)

    def meeting(self, **fields: Any) -> dict[str, Any]:
        return make_meeting(self.client, self.headers, **{**VENUE, **fields})

    def link(self, meeting: dict[str, Any]) -> str:
        qr = self.client.get(f"/api/meetings/{meeting['id']}/qr", headers=self.headers)
        assert qr.status_code == 200, qr.text
        return f"{self.url}/checkin?token={qr.json()['token']}"

    def records(self, meeting: dict[str, Any]) -> list[dict[str, Any]]:
        params = {"meeting_id": meeting["id"]}
        response = self.client.get("/api/attendance", params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["data"]
        return items


@pytest.fixture
def site(
    make_client: ClientFactory,
    pg_settings: Settings,
    face_service_url: str,  # noqa: F811  (the imported fixture)
    tmp_path: Path,
) -> Iterator[Site]:
    settings = pg_settings.model_copy(
        update={"face_model": "vectron", "face_service_url": face_service_url}
    )
    client = make_client(settings)
    headers = admin_headers(client)
    obama = make_member(client, headers, "Barack Obama", email="barack@example.org")
    enrol(client, headers, obama, face_service_url)
    with serve(create_app(settings, password_params=FAST_ARGON2)) as url:
        yield Site(url, client, headers, settings, obama, tmp_path / "screenshots")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


OpenPhone = Callable[..., Page]


@pytest.fixture
def phone(playwright: Playwright, site: Site, tmp_path: Path) -> Iterator[OpenPhone]:
    """Open a phone: a browser whose front camera plays the given frames."""
    browsers: list[Browser] = []

    def open_phone(
        frames: list[Frame] | None = None,
        *,
        size: str = "small",
        camera: bool = True,
        args: tuple[str, ...] = (),
    ) -> Page:
        args = ("--use-fake-device-for-media-stream", *args)
        if frames is not None:
            video = write_y4m(tmp_path / f"camera-{uuid.uuid4().hex[:6]}.y4m", frames)
            args = (*args, f"--use-file-for-fake-video-capture={video}")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(args))
        browsers.append(browser)
        width, height = PHONES[size]
        context = browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            permissions=["camera", "geolocation"] if camera else ["geolocation"],
            geolocation=INSIDE,
        )
        page = context.new_page()
        page.on("console", lambda message: _note_csp(site, message))
        return page

    yield open_phone
    for browser in browsers:
        browser.close()


def _note_csp(site: Site, message: ConsoleMessage) -> None:
    if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
        site.violations.append(message.text)


def shoot(site: Site, page: Page, name: str) -> None:
    site.shots.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=site.shots / f"{name}-{width}.png", full_page=True)


def answer_of(page: Page) -> str:
    page.locator("#answer-title:not(.busy)").wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function(
        "() => document.querySelector('#answer-title').textContent !== 'Checking…'",
        timeout=ANSWER_TIMEOUT_MS,
    )
    return page.locator("#answer-title").inner_text()


def capture(page: Page) -> str:
    page.locator("#capture:enabled").click()
    return answer_of(page)


def bytes_posted(page: Page) -> list[int]:
    """Sizes of the check-in uploads this page makes (Chromium reports 0 for blob bodies
    in its request events, so the body is read where the request is routed)."""
    sizes: list[int] = []

    def measure(route: Route) -> None:
        sizes.append(len(route.request.post_data_buffer or b""))
        route.continue_()

    page.route("**/api/checkin/phone", measure)
    return sizes


def say_who(page: Page, who: str) -> None:
    page.locator("#who").fill(who)
    page.get_by_role("button", name="Continue").click()


# BGR corners: facing the camera (green), turned (red), facing it again after the turn (blue).
MARK_FRONT, MARK_TURNED, MARK_BACK = (0, 200, 0), (0, 0, 200), (200, 0, 0)


def marked(frame: Frame, colour: tuple[int, int, int]) -> Frame:
    """The frame with a coloured corner, so the test can tell which pose is on camera."""
    out = frame.copy()
    out[:24, :24] = colour
    return out


def in_hand(poses: list[tuple[Frame, float]]) -> list[Frame]:
    """Each pose for its seconds at 30 fps, every frame as a phone held in the hand takes
    it (a few pixels of shake and noise: a real camera never repeats a frame)."""
    frames: list[Frame] = []
    for pose, seconds in poses:
        frames += [handheld(f, len(frames) + i) for i, f in enumerate(hold([pose], seconds))]
    return frames


def out_and_back(front: Frame, turned: Frame) -> list[Frame]:
    """A 3.4 s loop, marked so the test can tell which pose is on camera: facing the
    camera for 0.5 s, turned for 0.9 s, then facing it again for 2 s, as a person rests
    after turning. The test takes the selfie as the loop starts (`when_facing_the_camera`);
    the page's frames then see the turn and the return. The long rest keeps a slow burst
    (a loaded machine stretches the page's 300 ms steps) from meeting the next loop's turn,
    which no person would make unasked."""
    return in_hand(
        [
            (marked(front, MARK_FRONT), 0.5),
            (marked(turned, MARK_TURNED), 0.9),
            (marked(front, MARK_BACK), 2.0),
        ]
    )


def turning_to(direction: str) -> list[Frame]:
    """Obama facing the camera for a moment, turned to his own `direction`, and back.

    obama2.jpg shows him turned to his own right; mirrored, it is a turn to his left.
    """
    return out_and_back(picture("obama"), picture("obama2", mirror=direction == "left"))


def when_facing_the_camera(page: Page) -> None:
    """Wait for the moment the looping video starts again: its first pose after the rest."""
    page.wait_for_function(
        """() => {
          const v = document.querySelector('#video');
          if (!v || !v.videoWidth) return false;
          const c = document.createElement('canvas'); c.width = 8; c.height = 8;
          c.getContext('2d').drawImage(v, 0, 0, 8, 8, 0, 0, 8, 8);
          const [r, g, b] = c.getContext('2d').getImageData(4, 4, 1, 1).data;
          const front = g > 120 && b < 80;
          const afterAnotherPose = window.__sawOther === true;
          window.__sawOther = !front;
          return front && afterAnotherPose;
        }""",
        polling=10,
        timeout=10_000,
    )


def turn_as_asked(page: Page) -> str:
    """Capture in step with the looping video, trying again as a person told so would.

    The fake camera cannot follow the page's prompts: it turns on its own loop, so on a
    loaded machine the burst can miss the turn (the page allows three tries).
    """
    for attempt in range(3):
        when_facing_the_camera(page)
        answer = capture(page)
        if answer != "Try again" or attempt == 2:
            break
        page.locator("#retry").click()
    return answer


def scanned(
    site: Site, meeting: dict[str, Any], *, moves: list[str] | None = None
) -> dict[str, Any]:
    """Scan the meeting code on the real server, as the page would; with `moves`, until
    the server draws those (it draws per ticket; the fake camera is fixed beforehand)."""
    token = site.link(meeting).rsplit("=", 1)[1]
    for _ in range(25):
        reply = site.client.post("/api/qr/scan", json={"token": token})
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        if moves is None or body["moves"] == moves:
            return body
    raise AssertionError(f"25 scans and the server never asked {moves}")


@pytest.mark.parametrize("size", PHONES)
def test_a_member_checks_in_once_turning_their_head_and_next_time_it_is_one_tap(
    site: Site, phone: OpenPhone, size: str
) -> None:
    meeting = site.meeting(liveness="always")
    # The server draws the direction per ticket; the fake camera is fixed when the
    # browser starts, so the test scans first and plays a video turning that way.
    direction = secrets.choice(["left", "right"])
    scan = scanned(site, meeting, moves=[direction])
    assert scan["challenge"] == direction
    page = phone(turning_to(direction), size=size)
    page.route("**/api/qr/scan", lambda route: route.fulfill(json=scan))
    sent: list[int] = []
    page.on(
        "request",
        lambda r: (
            sent.append(len(r.post_data_buffer or b""))
            if r.url.endswith("/api/checkin/phone")
            else None
        ),
    )
    page.goto(site.link(meeting))
    page.locator("#who").wait_for()
    shoot(site, page, "who")
    say_who(page, "barack@example.org")
    page.locator("#capture:enabled").wait_for()
    assert "Hall A" in page.locator("#where").inner_text()
    shoot(site, page, "camera")
    assert turn_as_asked(page) == "You are checked in", page.locator("#answer-text").inner_text()
    shoot(site, page, "checked-in")
    records = site.records(meeting)
    # Whose check-in it was and when, on this phone's clock.
    when = page.evaluate(
        "iso => new Date(iso).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'})",
        records[0]["server_time"],
    )
    assert page.locator("#answer-text").inner_text() == (
        f"Barack Obama, you are checked in. Recorded at {when}."
    )
    assert [(r["member_id"], r["method"], r["status"]) for r in records] == [
        (site.obama["id"], "phone", "approved")
    ]
    assert records[0]["location_flag"] == "inside"
    # The selfie and the head-turn burst together, compressed in the browser.
    assert sent and all(20 * 1024 < size <= 150 * 1024 for size in sent), sent

    # Next week: the phone remembers who it is; one tap, and a repeat is told so.
    again = scanned(site, meeting, moves=[direction])
    page.unroute("**/api/qr/scan")
    page.route("**/api/qr/scan", lambda route: route.fulfill(json=again))
    page.goto(site.link(meeting))
    page.locator("#capture:enabled").wait_for()
    assert page.locator("#who-shown").inner_text() == "barack@example.org"
    assert turn_as_asked(page) == "Already checked in"
    shoot(site, page, "already")
    assert len(site.records(meeting)) == 1
    assert site.violations == []


def test_a_held_up_photo_swung_in_front_of_the_camera_fails_the_head_turn(
    site: Site, phone: OpenPhone
) -> None:
    meeting = site.meeting(liveness="always")
    obama = picture("obama")
    swinging = [swung(obama, a) for a in (0.0, -0.4, -0.7, -0.4, 0.0, 0.4, 0.7, 0.4)]
    page = phone(hold(swinging, 0.25))
    page.goto(site.link(meeting))
    say_who(page, "barack@example.org")
    assert capture(page) == "Try again"
    assert "turn" in page.locator("#answer-text").inner_text().lower()
    shoot(site, page, "liveness-failed")
    assert site.records(meeting) == []


def test_a_photo_warped_at_the_nose_fails_the_head_turn(site: Site, phone: OpenPhone) -> None:
    """Issue 24 defect 2, in the browser: the camera shows one photo, then the same photo
    warped around the nose (0.9 eye distances wide) so far that the nose cue alone would
    pass, and back, in a phone's shaking hand: a continuous turn, but a 2-D remap."""
    meeting = site.meeting(liveness="always")
    direction = secrets.choice(["left", "right"])
    scan = scanned(site, meeting, moves=[direction])
    still = picture("obama")
    warped = warp_beating_the_nose_cue(site.settings.face_service_url, still, direction, 0.9)
    page = phone(out_and_back(still, warped))
    page.route("**/api/qr/scan", lambda route: route.fulfill(json=scan))
    page.goto(site.link(meeting))
    say_who(page, "barack@example.org")
    page.locator("#capture:enabled").wait_for()
    when_facing_the_camera(page)
    assert capture(page) == "Try again"
    assert "could not see your head move as asked" in page.locator("#answer-text").inner_text()
    assert site.records(meeting) == []


def test_oversized_head_turn_frames_are_refused_before_any_face_work(
    site: Site, phone: OpenPhone
) -> None:
    """Issue 24 defect 3, from a browser: ten 5 KB PNGs declaring 6300x6300 pixels."""
    meeting = site.meeting(liveness="always")
    scan = scanned(site, meeting)
    page = phone(camera=False)
    page.goto(f"{site.url}/checkin")
    png = base64.b64encode(tiny_png(6300)).decode()
    selfie = base64.b64encode(photo_path("obama2").read_bytes()).decode()
    status, detail = page.evaluate(
        """async ([ticket, who, png, selfie]) => {
          const blob = (b64, type) => new Blob(
            [Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], {type});
          const form = new FormData();
          form.append("ticket", ticket);
          form.append("member_id", who);
          form.append("selfie", blob(selfie, "image/jpeg"), "selfie.jpg");
          for (let i = 0; i < 10; i += 1) form.append("turn", blob(png, "image/png"), i + ".png");
          const reply = await fetch("/api/checkin/phone", {method: "POST", body: form});
          return [reply.status, (await reply.json()).detail];
        }""",
        [scan["ticket"], site.obama["id"], png, selfie],
    )
    assert status == 422 and "head-turn frame cannot be used" in detail, detail
    assert "6300x6300 pixels" in detail
    tries = backend_of(site.client).store.get(phone_guard._tries_key(scan["ticket"]))
    assert tries is None  # refused before the attempt was counted


def test_a_stranger_is_asked_to_try_again_then_sent_to_an_admin(
    site: Site, phone: OpenPhone
) -> None:
    meeting = site.meeting(liveness="never")
    page = phone(hold([picture("biden")], 1.0))
    page.goto(site.link(meeting))
    say_who(page, "barack@example.org")
    titles, texts = [], []
    for _ in range(3):
        titles.append(capture(page))
        texts.append(page.locator("#answer-text").inner_text())
        if page.locator("#retry").is_visible():
            shoot(site, page, "try-again")
            page.locator("#retry").click()
    assert titles[:2] == ["Try again", "Try again"]
    assert texts[0].endswith("(2 tries left)") and texts[1].endswith("(1 try left)"), texts
    assert titles[2] == "Please see an admin"
    assert not page.locator("#retry").is_visible()
    shoot(site, page, "see-an-admin")
    assert site.records(meeting) == []


def test_offline_keeps_the_photo_and_sends_it_by_itself_when_back(
    site: Site, phone: OpenPhone
) -> None:
    meeting = site.meeting(liveness="never")
    page = phone(hold([picture("obama2")], 1.0))
    page.goto(site.link(meeting))
    say_who(page, "barack@example.org")
    page.locator("#capture:enabled").wait_for()
    page.context.set_offline(True)
    assert capture(page) == "You are offline"
    assert "sent by itself" in page.locator("#answer-text").inner_text()
    shoot(site, page, "offline")
    page.context.set_offline(False)  # no tap: the page resends when the phone is online
    assert answer_of(page) == "You are checked in"
    assert len(site.records(meeting)) == 1


def test_a_plain_http_phone_records_a_selfie_video_of_the_head_turn(
    site: Site, phone: OpenPhone, tmp_path: Path
) -> None:
    """Issue 24 defect 1: at http://<venue address> browsers give the page no camera."""
    meeting = site.meeting(liveness="always")
    port = site.url.rsplit(":", 1)[1]
    page = phone(args=("--host-resolver-rules=MAP venue.test 127.0.0.1",))
    page.goto(f"http://venue.test:{port}/checkin?token=" + site.link(meeting).rsplit("=", 1)[1])
    assert page.evaluate("window.isSecureContext") is False
    say_who(page, "barack@example.org")
    page.locator("#step-video").wait_for()
    shown = page.locator("#video-moves").inner_text()
    moves = re.findall(r"\b(LEFT|RIGHT|UP)\b", shown)
    assert 1 <= len(moves) <= 2 and {"LEFT", "RIGHT"} & set(moves), shown
    assert page.locator("#clip").get_attribute("accept") == "video/*"
    assert page.locator("#clip").get_attribute("capture") == "user"
    assert page.locator("#who-video").inner_text() == "barack@example.org"
    assert page.locator("#change-who-video").is_visible()
    shoot(site, page, "record-video")
    clip = encode(turning([m.lower() for m in moves]), tmp_path / "selfie", "h264-mp4")
    page.locator("#clip").set_input_files(str(clip))
    assert answer_of(page) == "You are checked in", page.locator("#answer-text").inner_text()
    records = site.records(meeting)
    assert [(r["method"], r["status"]) for r in records] == [("phone", "approved")]


def test_over_plain_http_a_clip_of_a_still_photo_is_refused(
    site: Site, phone: OpenPhone, tmp_path: Path
) -> None:
    """Also: a ticket asking two moves shows both, in order, before recording."""
    meeting = site.meeting(liveness="always")
    scan = next(b for b in (scanned(site, meeting) for _ in range(25)) if len(b["moves"]) == 2)
    port = site.url.rsplit(":", 1)[1]
    page = phone(args=("--host-resolver-rules=MAP venue.test 127.0.0.1",))
    page.route("**/api/qr/scan", lambda route: route.fulfill(json=scan))
    page.goto(f"http://venue.test:{port}/checkin?token=" + site.link(meeting).rsplit("=", 1)[1])
    say_who(page, "barack@example.org")
    page.locator("#step-video").wait_for()
    shown = page.locator("#video-moves").inner_text()
    assert re.findall(r"\b(LEFT|RIGHT|UP)\b", shown) == [m.upper() for m in scan["moves"]], shown
    assert ", back, then " in shown
    clip = encode([picture("obama")] * 30, tmp_path / "still", "h264-mp4")
    page.locator("#clip").set_input_files(str(clip))
    assert answer_of(page) == "Try again"
    assert "(2 tries left)" in page.locator("#answer-text").inner_text()
    assert site.records(meeting) == []


def test_expired_and_closed_codes_and_a_refused_camera_say_what_to_do(
    site: Site, phone: OpenPhone
) -> None:
    meeting = site.meeting(liveness="never")
    assert site.settings.qr_secret
    signer = QrSigner(site.settings.qr_secret)
    expired, _ = signer.sign(uuid.UUID(meeting["id"]), lifetime=-5)
    page = phone(camera=False)
    page.goto(f"{site.url}/checkin?token={expired}")
    assert answer_of(page) == "This code has expired"
    shoot(site, page, "expired")

    page.goto(f"{site.url}/checkin")
    assert answer_of(page) == "Scan the meeting's code"

    ended = site.meeting(liveness="never")
    link = site.link(ended)
    site.client.post(f"/api/meetings/{ended['id']}/end", headers=site.headers)
    page.goto(link)
    assert answer_of(page) in {"This code has expired", "This code cannot be used"}
    assert "check-ins" in page.locator("#answer-text").inner_text()

    page.goto(site.link(meeting))
    say_who(page, "barack@example.org")
    page.locator("#step-file").wait_for()
    assert page.locator("label[for=file]").is_visible()
    shoot(site, page, "no-camera")


def test_the_page_is_served_under_a_strict_csp_with_same_origin_files(site: Site) -> None:
    page = site.client.get("/checkin", params={"token": "<script>alert(1)</script>"})
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert "alert(1)" not in page.text
    for asset in ("checkin.js", "checkin.css"):
        response = site.client.get(f"/checkin/assets/{asset}")
        assert response.status_code == 200
        assert "http://" not in response.text and "https://" not in response.text
    assert site.client.get("/checkin/assets/..%2Fconfig.py").status_code in {404, 422}
