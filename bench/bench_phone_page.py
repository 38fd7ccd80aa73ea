"""Phone check-in page: bytes sent per check-in, and tap-to-answer time in a real browser
beside the bare `/api/checkin/phone` call with the same selfie (ratio), in one run.

A throwaway PostgreSQL database and Redis prefix (as bench_backend.py), a real
face-service process with the offline pack and one backend process. Debian's Chromium
(driven by Playwright) plays a fake camera made from obama2.jpg; obama.jpg is enrolled.
Each round checks in to a fresh meeting twice, interleaved: once through the page (the
`capture` -> `answer` performance marks the page itself sets, so scan, sign-in step and
camera start are outside the timing), once as a bare multipart POST of the selfie the
page sent (its ticket scanned beforehand, outside the timing). The meetings ask no
head turn (`liveness: never`): that flow adds a deliberate 1.8 s burst on the phone and
one embedding per burst frame on the server.

    .venv/bin/python bench/bench_phone_page.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_backend import PASSWORD, add_service_arguments, backend_process, seeded_environment  # noqa: E402
from bench_face_service import service_env, start_face_service  # noqa: E402

from kiosk.inference.images import read_image_file  # noqa: E402
from tests.utils.y4m import fit, hold, write_y4m  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FACES = ROOT / "tests/data/faces"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--members", type=int, default=50)
    add_service_arguments(parser)
    return parser.parse_args()


class Api:
    """The admin's side: an enrolled member and fresh meetings."""

    def __init__(self, url: str, email: str, face_url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30, trust_env=False)
        login = {"email": email, "password": PASSWORD}
        token = self.client.post("/api/auth/login", json=login).json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"
        member = self.client.post(
            "/api/members",
            json={"full_name": "Barack Obama", "ministry": "Choir", "email": "barack@example.org"},
        ).json()
        self.client.put(f"/api/members/{member['id']}/consent", json={"given": True})
        with httpx.Client(base_url=face_url, trust_env=False) as face:
            photo = (FACES / "obama.jpg").read_bytes()
            embedded = face.post("/embed", files={"image": ("obama.jpg", photo)}).json()
        template = {"embedding": embedded["embedding"], "model_id": embedded["model_id"]}
        answer = self.client.post(f"/api/members/{member['id']}/templates", json=template)
        answer.raise_for_status()

    def meeting(self, liveness: str) -> dict[str, Any]:
        begins = datetime.now(UTC) - timedelta(minutes=5)
        body = {
            "title": "Bench meeting",
            "starts_at": begins.isoformat(),
            "ends_at": (begins + timedelta(hours=2)).isoformat(),
            "open_to_everyone": True,
            "liveness": liveness,
        }
        meeting: dict[str, Any] = self.client.post("/api/meetings", json=body).json()
        self.client.post(f"/api/meetings/{meeting['id']}/start").raise_for_status()
        return meeting

    def token(self, meeting: dict[str, Any]) -> str:
        token: str = self.client.get(f"/api/meetings/{meeting['id']}/qr").json()["token"]
        return token

    def bare(self, meeting: dict[str, Any], selfie: bytes) -> float:
        """Seconds for the bare POST of a selfie (its ticket scanned beforehand)."""
        scan = self.client.post("/api/qr/scan", json={"token": self.token(meeting)}).json()
        form = {"ticket": scan["ticket"], "email": "barack@example.org"}
        started = time.perf_counter()
        reply = self.client.post(
            "/api/checkin/phone", data=form, files={"selfie": ("selfie.jpg", selfie)}
        )
        elapsed = time.perf_counter() - started
        assert reply.json().get("result") == "recorded", reply.text
        return elapsed


def through_page(page: Page, url: str, api: Api, meeting: dict[str, Any]) -> float:
    """Seconds from the tap to the answer, from the page's own performance marks."""
    page.goto(f"{url}/checkin?token={api.token(meeting)}")
    page.locator("#capture:enabled").click()
    page.wait_for_function(
        "() => performance.getEntriesByName('answer').length > 0", timeout=60_000
    )
    title = page.locator("#answer-title").inner_text()
    assert title == "You are checked in", title
    seconds: float = page.evaluate(
        "performance.measure('tap', 'capture', 'answer').duration / 1000"
    )
    return seconds


def run(args: argparse.Namespace, url: str, api: Api, video: Path) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        context = browser.new_context(
            viewport={"width": 360, "height": 740}, is_mobile=True, permissions=["camera"]
        )
        page = context.new_page()
        page.goto(f"{url}/checkin")
        page.evaluate("localStorage.setItem('sonta.checkin.who', 'barack@example.org')")
        bodies = posted_bodies(page)
        through_page(page, url, api, api.meeting("never"))  # warm-up; gives the selfie
        selfie = jpeg_in(bodies[0])
        page_s: list[float] = []
        bare_s: list[float] = []
        for _ in range(args.rounds):
            page_s.append(through_page(page, url, api, api.meeting("never")))
            bare_s.append(api.bare(api.meeting("never"), selfie))
        report(page_s, bare_s, [len(body) for body in bodies[1:]])
        browser.close()


def posted_bodies(page: Page) -> list[bytes]:
    """The check-in uploads' bodies (Chromium's request events give 0 for blob bodies,
    so they are read where the request is routed)."""
    bodies: list[bytes] = []

    def keep(route: Route) -> None:
        bodies.append(route.request.post_data_buffer or b"")
        route.continue_()

    page.route("**/api/checkin/phone", keep)
    return bodies


def jpeg_in(body: bytes) -> bytes:
    """The selfie JPEG inside a multipart body."""
    return body[body.find(b"\xff\xd8") : body.rfind(b"\xff\xd9") + 2]


def report(page_s: list[float], bare_s: list[float], sizes: list[int]) -> None:
    page_ms, bare_ms = statistics.median(page_s) * 1000, statistics.median(bare_s) * 1000
    print(f"{len(page_s)} check-ins each way, interleaved")
    print(f"  bytes posted per check-in   median {statistics.median(sizes) / 1024:7.1f} KiB")
    print(f"  tap -> answer (page)        median {page_ms:7.1f} ms")
    print(f"  bare POST of the selfie     median {bare_ms:7.1f} ms")
    print(f"  ratio page / bare           {page_ms / bare_ms:7.2f}x")


def main() -> int:
    args = _parse()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        video = write_y4m(
            home / "camera.y4m",
            hold([fit(read_image_file(FACES / "obama2.jpg").pixels)], 1.0),
        )
        service, face_url = start_face_service(service_env(1, 1, home))
        try:
            with seeded_environment(args) as (seeded, email):
                env = {**seeded, "FACE_MODEL": "vectron", "FACE_SERVICE_URL": face_url}
                with backend_process(env) as url:
                    run(args, url, Api(url, email, face_url), video)
        finally:
            service.terminate()
            service.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
