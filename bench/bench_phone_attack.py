"""A member's phone check-in while others attack the phone route: latency under attack
beside idle (ratio), in one run.

A throwaway PostgreSQL database and Redis prefix (as bench_backend.py), a real
face-service process with the offline pack and one backend process. obama.jpg is
enrolled; each member check-in is a bare POST of obama2.jpg to a fresh meeting that
asks no head turn. Rounds alternate: idle, then with two attacker threads looping on a
meeting that asks a head turn, each sending a real selfie plus ten `turn` frames:

  oversized  5 KB PNGs declaring 6300x6300 px (issue 24: two such requests kept the
             face-service busy ~70-98 s and a member's check-in took 4-11 s)
  real       ten real 400 px JPEG frames, the most work an attempt may ask for (each
             frame is an embedding; tickets and the per-client throttle limit how often)

    .venv/bin/python bench/bench_phone_attack.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_backend import PASSWORD, add_service_arguments, backend_process, seeded_environment  # noqa: E402
from bench_face_service import service_env, start_face_service  # noqa: E402

FACES = ROOT / "tests/data/faces"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--members", type=int, default=50)
    add_service_arguments(parser)
    return parser.parse_args()


def tiny_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def small_jpeg(path: Path, side: int = 400) -> bytes:
    pixels = cv2.imread(str(path))
    scale = side / max(pixels.shape[:2])
    resized = cv2.resize(pixels, (round(pixels.shape[1] * scale), round(pixels.shape[0] * scale)))
    return bytes(cv2.imencode(".jpg", resized)[1].tobytes())


def another_phone() -> dict[str, str]:
    """A different client address for each request (the backend trusts 127.0.0.1 as its
    proxy here), as if every request came from another phone."""
    address = ".".join(str(random.randint(1, 254)) for _ in range(3))
    return {"X-Forwarded-For": f"10.{address}"}


class Api:
    """The admin's side: an enrolled member, fresh meetings and tickets."""

    def __init__(self, url: str, email: str, face_url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=120, trust_env=False)
        login = {"email": email, "password": PASSWORD}
        token = self.client.post("/api/auth/login", json=login).json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"
        member = self.client.post(
            "/api/members",
            json={"full_name": "Barack Obama", "ministry": "Choir", "email": "barack@example.org"},
        ).json()
        self.member_id = member["id"]
        self.client.put(f"/api/members/{member['id']}/consent", json={"given": True})
        with httpx.Client(base_url=face_url, trust_env=False) as face:
            photo = (FACES / "obama.jpg").read_bytes()
            embedded = face.post("/embed", files={"image": ("obama.jpg", photo)}).json()
        template = {"embedding": embedded["embedding"], "model_id": embedded["model_id"]}
        self.client.post(f"/api/members/{member['id']}/templates", json=template)

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

    def ticket(
        self, meeting: dict[str, Any], client: httpx.Client, phone: dict[str, str]
    ) -> str | None:
        token = self.client.get(f"/api/meetings/{meeting['id']}/qr").json()["token"]
        scan = client.post("/api/qr/scan", json={"token": token}, headers=phone)
        return str(scan.json()["ticket"]) if scan.status_code == 200 else None

    def member_check_in(self, selfie: bytes) -> float:
        """Seconds for the member's bare POST (ticket scanned beforehand)."""
        phone = another_phone()
        ticket = self.ticket(self.meeting("never"), self.client, phone)
        form = {"ticket": ticket, "email": "barack@example.org"}
        started = time.perf_counter()
        reply = self.client.post(
            "/api/checkin/phone",
            data=form,
            files={"selfie": ("selfie.jpg", selfie)},
            headers=phone,
        )
        elapsed = time.perf_counter() - started
        assert reply.json().get("result") == "recorded", reply.text
        return elapsed


def attackers(
    api: Api, url: str, frames: list[tuple[str, bytes, str]], selfie: bytes
) -> Callable[[], Counter[int]]:
    """Start two attacker threads; the returned call stops them and gives their statuses."""
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    meeting = api.meeting("always")

    def attack() -> None:
        with httpx.Client(base_url=url, timeout=300, trust_env=False) as client:
            while not stop.is_set():
                phone = another_phone()  # many phones: no per-client throttle helps
                ticket = api.ticket(meeting, client, phone)
                if ticket is None:
                    statuses[429] += 1
                    time.sleep(0.2)
                    continue
                files = [("selfie", ("selfie.jpg", selfie, "image/jpeg"))]
                files += [("turn", frame) for frame in frames]
                data = {"ticket": ticket, "member_id": api.member_id}
                answer = client.post("/api/checkin/phone", data=data, files=files, headers=phone)
                statuses[answer.status_code] += 1

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the attack get going

    def finish() -> Counter[int]:
        stop.set()
        for thread in threads:
            thread.join(timeout=600)
        return statuses

    return finish


def run(args: argparse.Namespace, url: str, api: Api) -> None:
    selfie = (FACES / "obama2.jpg").read_bytes()
    attacks = {
        "oversized": [(f"t{i}.png", tiny_png(6300), "image/png") for i in range(10)],
        "real": [(f"t{i}.jpg", small_jpeg(FACES / "obama.jpg"), "image/jpeg") for i in range(10)],
    }
    api.member_check_in(selfie)  # warm-up
    idle: list[float] = []
    under: dict[str, list[float]] = {name: [] for name in attacks}
    seen: dict[str, Counter[int]] = {}
    for _ in range(args.rounds):
        idle.append(api.member_check_in(selfie))
        for name, frames in attacks.items():
            finish = attackers(api, url, frames, selfie)
            under[name].append(api.member_check_in(selfie))
            seen[name] = seen.get(name, Counter()) + finish()
        idle.append(api.member_check_in(selfie))
    idle_ms = statistics.median(idle) * 1000
    print(f"{args.rounds} rounds; a member's check-in, median of each")
    print(f"  idle                         {idle_ms:8.1f} ms")
    for name, samples in under.items():
        ms = statistics.median(samples) * 1000
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(seen[name].items()))
        print(f"  under the {name:9} attack  {ms:8.1f} ms   ratio {ms / idle_ms:5.2f}x")
        print(f"      attack answers: {codes}")


def main() -> int:
    args = _parse()
    with tempfile.TemporaryDirectory() as tmp:
        service, face_url = start_face_service(service_env(1, 1, Path(tmp)))
        try:
            with seeded_environment(args) as (seeded, email):
                env = {
                    **seeded,
                    "FACE_MODEL": "vectron",
                    "FACE_SERVICE_URL": face_url,
                    "TRUSTED_PROXIES": "127.0.0.1",
                }
                with backend_process(env) as url:
                    run(args, url, Api(url, email, face_url))
        finally:
            service.terminate()
            service.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
