"""`/health` reports database, cache and face-service; 503 without a database."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from kiosk.inference.engine import EngineConfig
from server.backend.core.config import Settings, load_settings
from server.face_service.app import create_app as create_face_service
from server.face_service.settings import FaceServiceSettings
from tests.face_service.conftest import ThreadedServer
from tests.server.conftest import PG, ClientFactory
from tests.server.utils import admin_headers


def test_health_reports_database_cache_and_face_service(any_client: TestClient) -> None:
    response = any_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["cache"]["state"] == "ok"
    # Nothing listens where the test settings point FACE_SERVICE_URL.
    assert body["face_service"]["status"] == "unavailable"
    assert body["status"] == "degraded"
    assert body["model"] == "buffalo_l"
    assert body["model_licence"] == "non-commercial"


def test_health_names_a_public_domain_pack_with_its_face_service(
    make_client: ClientFactory, pg_settings: Settings, tmp_path: Path
) -> None:
    """The dlib pack end to end: its face-service loads it, and both /health say its licence."""
    engine = EngineConfig(pack="dlib", cache_dir=tmp_path / "cache", allow_download=False)
    app = create_face_service(FaceServiceSettings(engine=engine))
    with ThreadedServer(app) as server:
        assert app.state.model.wait_loaded(120).state.value == "healthy"
        settings = pg_settings.model_copy(
            update={"face_service_url": server.url, "face_model": "dlib"}
        )
        body = make_client(settings).get("/health").json()
    assert (body["model"], body["model_licence"]) == ("dlib", "public-domain")
    assert body["face_service"] == {
        "status": "healthy",
        "model": "dlib",
        "model_loaded": True,
        "licence": "public-domain",
    }


def test_health_names_the_store_in_use(
    make_client: ClientFactory, pg_settings: Settings, embedded_settings: Settings
) -> None:
    assert make_client(pg_settings).get("/health").json()["cache"]["kind"] == "redis"
    assert make_client(embedded_settings).get("/health").json()["cache"]["kind"] == "in-process"


def test_health_is_503_when_database_unreachable(
    make_client: ClientFactory, server_env: dict[str, str]
) -> None:
    # A port where no PostgreSQL listens: the app still starts and says so.
    settings = load_settings({**server_env, "DATABASE_PORT": "9"})
    response = make_client(settings).get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_api_routes_answer_503_not_500_when_database_unreachable(
    make_client: ClientFactory, server_env: dict[str, str]
) -> None:
    settings = load_settings({**server_env, "DATABASE_PORT": "9"})
    response = make_client(settings).post(
        "/api/auth/login", json={"email": "a@example.org", "password": "whatever"}
    )
    assert response.status_code == 503
    assert "database" in response.json()["detail"].lower()


def test_docs_and_openapi_are_served_under_api(any_client: TestClient) -> None:
    assert any_client.get("/api/docs").status_code == 200
    schema = any_client.get("/api/openapi.json").json()
    assert "/api/auth/login" in schema["paths"]
    assert "/health" in schema["paths"]


def test_liveness_answers_without_touching_the_database(
    make_client: ClientFactory, server_env: dict[str, str]
) -> None:
    settings = load_settings({**server_env, "DATABASE_PORT": "9"})
    response = make_client(settings).get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_cache_outage_is_reported_and_sign_in_still_answers(
    make_client: ClientFactory, server_env: dict[str, str], migrated: None
) -> None:
    client = make_client(load_settings({**server_env, "REDIS_PORT": "9"}))
    health = client.get("/health")
    assert health.status_code == 200  # the database is fine; the cache state says the rest
    assert health.json()["cache"]["state"] == "unavailable"
    assert health.json()["status"] == "degraded"
    # Rate limits count per process while the cache is away (issue 15, defect 4).
    login = client.post("/api/auth/login", json={"email": "a@example.org", "password": "x"})
    assert login.status_code == 401


def test_health_is_503_when_the_schema_is_not_migrated(
    make_client: ClientFactory, server_env: dict[str, str]
) -> None:
    name = f"sonta_empty_{secrets.token_hex(4)}"
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as connection:  # type: ignore[arg-type]
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        client = make_client(load_settings({**server_env, "DATABASE_NAME": name}))
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json()["database"] == "not migrated"
        api = client.post("/api/auth/login", json={"email": "a@example.org", "password": "x"})
        assert api.status_code == 503
        assert "sonta migrate" in api.json()["detail"]
    finally:
        with psycopg.connect(**PG, dbname="postgres", autocommit=True) as connection:  # type: ignore[arg-type]
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def test_the_public_sees_no_operator_message_but_a_signed_in_admin_does(
    make_client: ClientFactory, pg_settings: Settings, tmp_path: Path
) -> None:
    """Issue 13: the model-pack message with server paths was on the public /health."""
    engine = EngineConfig(pack="buffalo_l", cache_dir=tmp_path / "empty", allow_download=False)
    app = create_face_service(FaceServiceSettings(engine=engine))
    with ThreadedServer(app) as server:
        app.state.model.wait_loaded(30)
        client = make_client(pg_settings.model_copy(update={"face_service_url": server.url}))
        public = client.get("/health")
        assert public.json()["face_service"]["status"] == "unhealthy"
        assert "detail" not in public.json()["face_service"]
        assert str(tmp_path) not in public.text
        admin = client.get("/health", headers=admin_headers(client))
        assert "sonta face fetch buffalo_l" in admin.json()["face_service"]["detail"]
