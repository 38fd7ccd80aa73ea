"""Pairing codes are limited per server and per code, not only per client (issue 25).

60 addresses, each under its own limit, once guessed codes unrefused. Attacked over
real HTTP through a trusted proxy that forwards each guess from another address; an
admin signed in can still pair a kiosk while code pairing is shut.
"""

from __future__ import annotations

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.main import create_app
from server.backend.services import kiosks
from tests.server.live import serve
from tests.server.utils import (
    FAST_ARGON2,
    FakeMailer,
    admin_in_database,
    bearer,
    password_login,
)

pytestmark = [pytest.mark.network]


def _guess(api: httpx.Client, address: str, code: str) -> httpx.Response:
    return api.post("/api/kiosks/pair", json={"code": code}, headers={"X-Forwarded-For": address})


def test_guesses_from_many_addresses_are_refused_server_wide(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    settings = pg_settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    email = admin_in_database(server_env, "pairing")
    app = create_app(settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        budget = kiosks.PAIR_PER_SERVER.attempts
        answers = [
            _guess(api, f"203.0.113.{n % 60 + 1}", f"GUES-SCOD-{n:04d}").status_code
            for n in range(budget + 3)
        ]
        assert kiosks.PAIR_PER_CLIENT.attempts * 60 > budget  # no address hit its own limit
        assert answers[:budget] == [401] * budget
        assert set(answers[budget:]) == {429}
        shut = _guess(api, "198.51.100.7", "ANYC-ODEA-TALL")
        assert shut.status_code == 429 and "signing in on it" in shut.json()["detail"]
        admin = bearer(password_login(api, email)["access_token"])
        direct = api.post("/api/kiosks", json={"name": "Hall"}, headers=admin)
        assert direct.status_code == 201, direct.text


def test_one_code_tried_from_many_addresses_is_refused(
    pg_settings: Settings,
) -> None:
    settings = pg_settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    app = create_app(settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        tries = kiosks.PAIR_PER_CODE.attempts
        answers = [
            _guess(api, f"192.0.2.{n + 1}", "SAME-CODE-EACH").status_code for n in range(tries + 2)
        ]
        assert answers == [401] * tries + [429, 429]
