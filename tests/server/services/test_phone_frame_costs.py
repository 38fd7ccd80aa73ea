"""Head-turn frames count in the phone flow's per-client limit (issue 25).

Ten frames cost the server ~8x an attempt without, yet counted once: a client could
push eight times the work through the same limit. Attacked over real HTTP: attempts
carrying ten frames reach the per-client limit after a quarter as many requests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.main import create_app
from server.backend.services import phone_guard
from tests.server.live import serve
from tests.server.utils import (
    FAST_ARGON2,
    FakeMailer,
    admin_in_database,
    bearer,
    password_login,
)

pytestmark = [pytest.mark.network]

SELFIE = (Path(__file__).resolve().parents[2] / "data" / "faces" / "obama2.jpg").read_bytes()


class Phones:
    """A meeting open for phone check-in; tickets scanned as a phone scans them."""

    def __init__(self, api: httpx.Client, admin: dict[str, str]) -> None:
        self.api, self.admin = api, admin
        member = api.post(
            "/api/members", json={"full_name": "Ama Mensah", "ministry": "Choir"}, headers=admin
        )
        assert member.status_code == 201, member.text
        self.member = member.json()["id"]
        begins = datetime.now(UTC) - timedelta(minutes=5)
        meeting = api.post(
            "/api/meetings",
            json={
                "title": "Leaders",
                "starts_at": begins.isoformat(),
                "ends_at": (begins + timedelta(hours=2)).isoformat(),
                "open_to_everyone": True,
            },
            headers=admin,
        )
        assert meeting.status_code == 201, meeting.text
        self.meeting = meeting.json()["id"]
        assert api.post(f"/api/meetings/{self.meeting}/start", headers=admin).is_success

    def attempt(self, frames: int, address: str) -> int:
        qr = self.api.get(f"/api/meetings/{self.meeting}/qr", headers=self.admin)
        scanned = self.api.post("/api/qr/scan", json={"token": qr.json()["token"]})
        assert scanned.status_code == 200, scanned.text
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            ("selfie", ("selfie.jpg", SELFIE, "image/jpeg"))
        ]
        files += [("turn", (f"t{i}.jpg", SELFIE, "image/jpeg")) for i in range(frames)]
        data: dict[str, Any] = {"ticket": scanned.json()["ticket"], "member_id": self.member}
        answer = self.api.post(
            "/api/checkin/phone", data=data, files=files, headers={"X-Forwarded-For": address}
        )
        return answer.status_code


def test_ten_frame_attempts_use_up_the_client_limit_by_their_cost(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    # No face-service: each attempt is counted, then answered 503, so nothing else costs.
    settings = pg_settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    email = admin_in_database(server_env, "frames")
    app = create_app(settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        phones = Phones(api, bearer(password_login(api, email)["access_token"]))
        limit = phone_guard.PER_CLIENT.attempts
        allowed = limit // phone_guard.attempt_cost(10)
        heavy = [phones.attempt(10, "198.51.100.10") for _ in range(allowed + 1)]
        assert heavy == [503] * allowed + [429], heavy
        light = [phones.attempt(0, "198.51.100.20") for _ in range(allowed + 1)]
        assert light == [503] * (allowed + 1), "a selfie-only attempt still counts once"
