"""A display link lives at most a day from when it was made (issue 25).

A meeting a year away once got a 365-day link to its presenter screen (title, count and
the live check-in QR). Made over real HTTP; the key itself stops working after a day.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.core.security.display import DisplaySigner
from server.backend.errors import AuthError
from server.backend.main import create_app
from server.backend.services.presenter import DISPLAY_MAX_LIFE
from tests.server.live import serve
from tests.server.utils import (
    FAST_ARGON2,
    FakeMailer,
    admin_in_database,
    bearer,
    password_login,
)

pytestmark = [pytest.mark.network]


def test_a_meeting_a_year_away_gets_a_link_for_a_day(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    email = admin_in_database(server_env, "display")
    app = create_app(pg_settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        begins = datetime.now(UTC) + timedelta(days=365)
        made = api.post(
            "/api/meetings",
            json={
                "title": "Next year's retreat",
                "starts_at": begins.isoformat(),
                "ends_at": (begins + timedelta(hours=3)).isoformat(),
                "open_to_everyone": True,
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        meeting = made.json()["id"]
        link = api.post(f"/api/meetings/{meeting}/display-link", headers=admin)
        assert link.status_code in (200, 201), link.text
        expires = datetime.fromisoformat(link.json()["expires_at"])
        assert expires <= datetime.now(UTC) + DISPLAY_MAX_LIFE + timedelta(minutes=1)
        key = link.json()["url"].split("#key=", 1)[1]
        assert api.get(f"/api/present/{meeting}", headers={"X-Display-Key": key}).is_success
    assert pg_settings.qr_secret
    tomorrow = DisplaySigner(pg_settings.qr_secret, clock=lambda: time.time() + 86_460)
    with pytest.raises(AuthError, match="expired"):
        tomorrow.verify(key, meeting_id=uuid.UUID(meeting))
