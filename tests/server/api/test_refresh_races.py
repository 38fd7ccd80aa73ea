"""Refresh tokens under races, retries and a lost cache (issue 15, defects 1 and 4; RFC 9700).

One refresh token refreshed many times at once has exactly one winner, and every caller
within the grace window gets the winner's successor; reuse after the window, or of an
older token, revokes the family. Families and single-use tokens live in the database,
so sign-in works with Redis gone and a Redis restart signs nobody out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.backend.core.security.tokens import REUSE_GRACE_SECONDS, TokenService
from server.backend.errors import AuthError
from tests.server.faults import ThrowawayRedis, throwaway_redis
from tests.server.live import backend_process
from tests.server.utils import (
    admin_in_database,
    backend_of,
    bearer,
    login,
    make_admin,
    password_login,
)

pytestmark = [pytest.mark.network]


def _service_at(client: TestClient, moment: float) -> TokenService:
    settings = backend_of(client).settings
    assert settings.jwt_access_secret and settings.jwt_refresh_secret
    return TokenService(
        access_secret=settings.jwt_access_secret,
        refresh_secret=settings.jwt_refresh_secret,
        access_ttl=settings.jwt_access_expiration,
        refresh_ttl=settings.jwt_refresh_expiration,
        families=backend_of(client).tokens.families,
        clock=lambda: moment,
    )


def _refresh(client: TestClient | httpx.Client, token: str) -> httpx.Response:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_a_retry_after_a_lost_answer_gets_the_same_successor(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    first = _refresh(client, tokens["refresh_token"])
    retry = _refresh(client, tokens["refresh_token"])  # the first answer never arrived
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json()["refresh_token"] == first.json()["refresh_token"]
    successor = retry.json()
    assert client.get("/api/auth/me", headers=bearer(successor["access_token"])).status_code == 200
    assert _refresh(client, successor["refresh_token"]).status_code == 200


def test_reuse_after_the_grace_window_revokes_the_family(client: TestClient) -> None:
    tokens = login(client, make_admin(client).email)
    successor = _refresh(client, tokens["refresh_token"]).json()
    later = _service_at(client, time.time() + REUSE_GRACE_SECONDS + 5)
    with pytest.raises(AuthError, match="already used"):
        later.rotate(tokens["refresh_token"])
    assert client.get("/api/auth/me", headers=bearer(successor["access_token"])).status_code == 401
    assert _refresh(client, successor["refresh_token"]).status_code == 401


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    with throwaway_redis(tmp_path) as server:
        yield server


@pytest.fixture
def process_env(
    server_env: dict[str, str], migrated: None, tmp_path: Path, private_redis: ThrowawayRedis
) -> dict[str, str]:
    return {**server_env, **private_redis.env, "HOME": str(tmp_path)}


def test_sign_in_works_without_redis_and_survives_its_restart(
    process_env: dict[str, str], private_redis: ThrowawayRedis, tmp_path: Path
) -> None:
    email = admin_in_database(process_env, "faults")
    redis_server = private_redis
    with (
        backend_process(process_env, tmp_path / "backend.log") as url,
        httpx.Client(base_url=url, timeout=10) as api,
    ):
        before = password_login(api, email)
        redis_server.kill()
        during = password_login(api, email)
        headers = bearer(during["access_token"])
        assert api.get("/api/members", headers=headers).status_code == 200
        assert api.get("/api/auth/me", headers=bearer(before["access_token"])).status_code == 200
        during = _refresh(api, during["refresh_token"]).json()
        redis_server.start()
        # Nothing was kept in the cache that a restart could lose.
        for tokens in (before, during):
            assert api.get("/api/auth/me", headers=bearer(tokens["access_token"])).is_success
            assert _refresh(api, tokens["refresh_token"]).status_code == 200
