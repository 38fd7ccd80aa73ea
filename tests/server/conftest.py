"""Backend tests start from a clean environment; the fixtures live in tests/conftest.py."""

from __future__ import annotations

import pytest

# Re-exported: backend tests import these from here.
from tests.conftest import CONFIG_ENV, PG, REDIS, SECRETS, ClientFactory

__all__ = ["CONFIG_ENV", "PG", "REDIS", "SECRETS", "ClientFactory"]


@pytest.fixture(autouse=True)
def _clean_env(clean_env: None) -> None:
    """Every backend test starts with none of the variables the config reads."""
