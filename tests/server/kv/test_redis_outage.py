"""A failing Redis never slows or fails the write path (issue 15, defects 3 and 4).

Each test runs the backend on the session's PostgreSQL and a throwaway Redis of its own,
which it freezes (SIGSTOP) or kills.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.backend.core.config import Settings, load_settings
from tests.server.conftest import ClientFactory
from tests.server.faults import ThrowawayRedis, throwaway_redis
from tests.server.kiosk_utils import PairedKiosk, make_meeting, make_member, pair_kiosk
from tests.server.services.test_checkin_upload import item
from tests.server.utils import admin_headers

pytestmark = [pytest.mark.network]
ITEMS = 20


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    with throwaway_redis(tmp_path) as server:
        yield server


@pytest.fixture
def outage_client(
    make_client: ClientFactory,
    pg_settings: Settings,
    server_env: dict[str, str],
    private_redis: ThrowawayRedis,
) -> TestClient:
    return make_client(load_settings({**server_env, **private_redis.env}))


def _batch(client: TestClient) -> tuple[PairedKiosk, list[dict[str, Any]]]:
    """A paired kiosk and one check-in each for ITEMS members of a running meeting."""
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    members = [make_member(client, admin, f"Member {n}", enrol=False) for n in range(ITEMS)]
    return kiosk, [item(client, meeting, member) for member in members]


def _upload(client: TestClient, kiosk: PairedKiosk, items: list[dict[str, Any]]) -> float:
    started = time.monotonic()
    response = client.post("/api/kiosk/checkins", json={"items": items}, headers=kiosk.headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert [r["result"] for r in response.json()["results"]] == ["recorded"] * len(items)
    return elapsed


def test_a_frozen_redis_does_not_hold_up_a_kiosk_upload(
    outage_client: TestClient, private_redis: ThrowawayRedis
) -> None:
    kiosk, items = _batch(outage_client)
    private_redis.freeze()
    # Before the fix each stored check-in waited on Redis for seconds (~4 s per item).
    assert _upload(outage_client, kiosk, items) < 3.0


def test_a_dead_redis_costs_one_log_line_not_one_per_item(
    outage_client: TestClient, private_redis: ThrowawayRedis, caplog: pytest.LogCaptureFixture
) -> None:
    kiosk, items = _batch(outage_client)
    private_redis.kill()
    with caplog.at_level(logging.WARNING):
        _upload(outage_client, kiosk, items)
        backend = outage_client.app.state.backend  # type: ignore[attr-defined]
        assert backend.events.flush(timeout=10)
    complaints = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(complaints) <= 1, [r.getMessage() for r in complaints]
    assert all(r.exc_info is None for r in complaints)
