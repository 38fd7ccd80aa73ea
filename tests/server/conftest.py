"""Backend tests start from a clean environment; the fixtures live in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Re-exported: backend tests import these from here.
from tests.conftest import CONFIG_ENV, PG, REDIS, SECRETS, ClientFactory

__all__ = ["CONFIG_ENV", "PG", "REDIS", "SECRETS", "ClientFactory"]


@pytest.fixture(autouse=True)
def _clean_env(clean_env: None) -> None:
    """Every backend test starts with none of the variables the config reads."""


@pytest.fixture(scope="session")
def shared_face_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real face-service process (offline pack) for the tests of this session."""
    from tests.face_service.conftest import (  # noqa: PLC0415  # only tests that need it pay
        ServiceProcess,
        answers_healthy,
        wait_until,
    )
    from tests.face_service.conftest import clean_env as service_env  # noqa: PLC0415

    tmp = tmp_path_factory.mktemp("shared-face-service")
    env = service_env(
        FACE_MODEL="vectron", FACE_MODEL_CACHE=str(tmp / "cache"), OMP_NUM_THREADS="1"
    )
    service = ServiceProcess(env, tmp / "face-service.log")
    try:
        wait_until(lambda: answers_healthy(service.url), 90, f"the face-service\n{service.log()}")
        yield service.url
    finally:
        service.stop()
