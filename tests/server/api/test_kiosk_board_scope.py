"""A kiosk reads only the boards of meetings it serves (issue 25).

A meeting that lists its kiosks showed its title, counts and live phone QR token to any
paired kiosk. Attacked over real HTTP with the credential of a kiosk the meeting does not
list: the same 404 as for a meeting that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.main import create_app
from tests.server.live import serve
from tests.server.utils import (
    FAST_ARGON2,
    FakeMailer,
    admin_in_database,
    bearer,
    password_login,
)

pytestmark = [pytest.mark.network]


def _kiosk(api: httpx.Client, admin: dict[str, str], name: str) -> tuple[str, dict[str, str]]:
    paired = api.post("/api/kiosks", json={"name": name}, headers=admin)
    assert paired.status_code == 201, paired.text
    return str(paired.json()["kiosk"]["id"]), bearer(paired.json()["credential"])


def test_another_kiosk_cannot_read_a_meeting_s_board(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    email = admin_in_database(server_env, "board")
    app = create_app(pg_settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        hall_id, hall = _kiosk(api, admin, "Hall")
        _side_id, side = _kiosk(api, admin, "Side door")
        begins = datetime.now(UTC) - timedelta(minutes=5)
        made = api.post(
            "/api/meetings",
            json={
                "title": "Leaders only",
                "starts_at": begins.isoformat(),
                "ends_at": (begins + timedelta(hours=2)).isoformat(),
                "open_to_everyone": True,
                "kiosk_ids": [hall_id],
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        meeting = made.json()["id"]
        assert api.post(f"/api/meetings/{meeting}/start", headers=admin).is_success
        served = api.get(f"/api/kiosk/meetings/{meeting}/board", headers=hall)
        assert served.status_code == 200 and served.json()["title"] == "Leaders only"
        other = api.get(f"/api/kiosk/meetings/{meeting}/board", headers=side)
        missing = api.get(f"/api/kiosk/meetings/{uuid.uuid4()}/board", headers=side)
        assert (other.status_code, missing.status_code) == (404, 404)
        assert other.json() == missing.json()
        assert "Leaders only" not in other.text
