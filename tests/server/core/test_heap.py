"""A running backend keeps what start-up built out of the collector's full passes, and
lets it go when it stops."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from server.backend.core.heap import startup_objects_frozen
from server.backend.main import create_app
from tests.server.utils import FAST_ARGON2, FakeMailer


def test_a_running_backend_has_its_startup_objects_frozen_until_it_stops(
    pg_settings: Settings,
) -> None:
    app = create_app(pg_settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        # Modules, routes, schemas and mappers: far more than any one request makes.
        assert gc.get_freeze_count() > 50_000
        assert client.get("/health/live").status_code == 200
        assert gc.get_freeze_count() > 50_000
    assert gc.get_freeze_count() == 0


def test_objects_made_while_frozen_are_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the collector frees it

    with startup_objects_frozen():
        frozen = gc.get_freeze_count()
        Node()
        assert gc.collect() >= 1
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0
