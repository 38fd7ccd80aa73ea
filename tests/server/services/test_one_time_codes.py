"""One-time codes: guessing is throttled per client, and a new link voids the old ones
(issue 25). Attacked over real HTTP against a served backend."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.main import create_app
from server.backend.services.throttle import CODES_PER_CLIENT
from tests.server.live import serve
from tests.server.utils import FAST_ARGON2, FakeMailer, admin_in_database

pytestmark = [pytest.mark.network]


@pytest.fixture
def served(
    pg_settings: Settings, server_env: dict[str, str]
) -> Iterator[tuple[httpx.Client, FakeMailer, str]]:
    mailer = FakeMailer()
    email = admin_in_database(server_env, "codes")
    app = create_app(pg_settings, mailer=mailer, password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        yield api, mailer, email


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/auth/password/set", {"password": "a brand new passphrase"}),
        ("/api/auth/magic-link/verify", {}),
    ],
    ids=["set-password", "sign-in"],
)
def test_guessing_codes_from_one_client_gets_429(
    served: tuple[httpx.Client, FakeMailer, str], path: str, extra: dict[str, str]
) -> None:
    api, _mailer, _email = served
    answers = [
        api.post(path, json={"token": secrets.token_urlsafe(32), **extra}).status_code
        for _ in range(CODES_PER_CLIENT.attempts + 5)
    ]
    assert answers[: CODES_PER_CLIENT.attempts] == [401] * CODES_PER_CLIENT.attempts, answers
    assert set(answers[CODES_PER_CLIENT.attempts :]) == {429}, answers
    last = api.post(path, json={"token": "x" * 43, **extra})
    assert last.status_code == 429 and int(last.headers["retry-after"]) > 0


def test_a_new_set_password_link_voids_the_older_one(
    served: tuple[httpx.Client, FakeMailer, str],
) -> None:
    api, mailer, email = served
    assert api.post("/api/auth/password/request", json={"email": email}).is_success
    older = mailer.last_code(email)
    assert api.post("/api/auth/password/request", json={"email": email}).is_success
    newer = mailer.last_code(email)
    assert older != newer
    body = {"password": "a brand new passphrase"}
    stale = api.post("/api/auth/password/set", json={"token": older, **body})
    assert stale.status_code == 401 and "invalid, expired or already used" in stale.text
    assert api.post("/api/auth/password/set", json={"token": newer, **body}).status_code == 204
