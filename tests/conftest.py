"""Fixtures shared by every test folder that needs a real backend (tests/server, and the
kiosk's sync tests): a throwaway PostgreSQL database and Redis key prefix per test
session, and app clients over PostgreSQL+Redis or the embedded defaults (SQLite +
in-process store). `clean_env` clears the variables the backend's config reads."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server.backend.core.config import Settings, load_settings
from server.backend.core.db import make_engine
from server.backend.main import create_app
from server.backend.models import Base
from server.backend.tasks.migrate import upgrade_to_head
from tests.server.utils import FAST_ARGON2, FakeMailer

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = {"host": "127.0.0.1", "port": 6379}
CONFIG_ENV = tuple(name.upper() for name in Settings.model_fields)

# Fixed, valid secrets so tokens made by one app instance verify in another.
SECRETS = {
    "JWT_ACCESS_SECRET": "a" * 8 + secrets.token_hex(20),
    "JWT_REFRESH_SECRET": "r" * 8 + secrets.token_hex(20),
    "QR_SECRET": "q" * 8 + secrets.token_hex(20),
    "EMBEDDING_ENCRYPTION_KEY": secrets.token_hex(16),
    "FRONTEND_URL": "https://attendance.example.org",
    "PUBLIC_URL": "https://attendance.example.org",
}
# Nothing listens here, so tests never meet a face-service someone else started.
NO_FACE_SERVICE = {"FACE_SERVICE_URL": "http://127.0.0.1:9"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """None of the variables the config reads, and a HOME inside the test's folder."""
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(**PG, dbname="postgres", autocommit=True)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of our own, created for this session and dropped at its end."""
    name = f"sonta_test_{secrets.token_hex(6)}"
    with _admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield name
    finally:
        with _admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """A key prefix of our own; its keys are deleted at the end of the session."""
    prefix = f"sonta-test-{secrets.token_hex(6)}:"
    yield prefix
    _delete_prefix(prefix)


def _delete_prefix(prefix: str) -> None:
    client = redis.Redis(**REDIS)  # type: ignore[arg-type]
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def server_env(pg_database: str, redis_prefix: str) -> dict[str, str]:
    """Environment of a production-like backend on the session's PostgreSQL and Redis."""
    return {
        **SECRETS,
        **NO_FACE_SERVICE,
        "DATABASE_HOST": PG["host"],
        "DATABASE_PORT": str(PG["port"]),
        "DATABASE_USER": PG["user"],
        "DATABASE_NAME": pg_database,
        "REDIS_HOST": REDIS["host"],
        "REDIS_PORT": str(REDIS["port"]),
        "REDIS_KEY_PREFIX": redis_prefix,
    }


@pytest.fixture(scope="session")
def migrated(server_env: dict[str, str]) -> None:
    """The session database brought to the latest schema through Alembic."""
    engine = make_engine(load_settings(server_env))
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_engine(server_env: dict[str, str], migrated: None) -> Iterator[Engine]:
    """One engine for the fixtures' own housekeeping (emptying tables between tests)."""
    engine = make_engine(load_settings(server_env))
    yield engine
    engine.dispose()


@pytest.fixture
def pg_settings(server_env: dict[str, str], pg_engine: Engine, redis_prefix: str) -> Settings:
    """Settings on PostgreSQL + Redis, with empty tables and an empty key prefix."""
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with pg_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    _delete_prefix(redis_prefix)
    return load_settings(server_env)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded database migrated once; tests start from copies of it."""
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    engine = make_engine(load_settings({**SECRETS, "SONTA_DATA_DIR": str(data_dir)}))
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    return data_dir / "sonta.db"


@pytest.fixture
def embedded_settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    """Zero-configuration settings: SQLite in a temporary data dir, in-process store.

    The data dir starts from a migrated copy to save time; the app still runs its
    start-up migration, which finds the schema current. A fresh data dir is covered by
    the CLI and `sonta server` tests.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_sqlite, data_dir / "sonta.db")
    return load_settings({"SONTA_DATA_DIR": str(data_dir), **NO_FACE_SERVICE})


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


ClientFactory = Callable[[Settings], TestClient]


@pytest.fixture
def make_client(mailer: FakeMailer) -> Iterator[ClientFactory]:
    """Start app instances (lifespan included) and stop them all at teardown."""
    clients: list[TestClient] = []

    def factory(settings: Settings) -> TestClient:
        app = create_app(settings, mailer=mailer, password_params=FAST_ARGON2)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory, pg_settings: Settings) -> TestClient:
    """An app on PostgreSQL + Redis."""
    return make_client(pg_settings)


@pytest.fixture(params=["postgres", "embedded"])
def any_client(request: pytest.FixtureRequest, make_client: ClientFactory) -> TestClient:
    """The same test on PostgreSQL + Redis and on the embedded defaults."""
    name = "pg_settings" if request.param == "postgres" else "embedded_settings"
    settings: Settings = request.getfixturevalue(name)
    return make_client(settings)


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
