"""docker-compose.yml and render.yaml say what the code reads: every variable they set is
one the backend or the face-service knows, and their settings pass the real checks."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from server.backend.core.config import Settings, load_settings
from server.face_service.settings import FaceServiceSettings, Mode
from tests.container.conftest import ROOT
from tests.container.dockerfile import stages

KEY = "0123456789abcdef" * 4
# Read by the face engine or the face-service rather than the backend's Settings.
ENGINE_AND_SERVICE = {
    "FACE_MODEL",
    "FACE_MODEL_DIR",
    "FACE_MODEL_CACHE",
    "OMP_NUM_THREADS",
    "FACE_SERVICE_MODE",
    "FACE_SERVICE_HOST",
    "FACE_SERVICE_PORT",
    "FACE_SERVICE_API_KEY",
    "FACE_SERVICE_WORKERS",
}
KNOWN = {name.upper() for name in Settings.model_fields} | ENGINE_AND_SERVICE


def compose() -> dict[str, Any]:
    text = (ROOT / "docker-compose.yml").read_text()
    # Compose's ${VAR:-default} and ${VAR:?message}, with the key as if .env set it.
    text = re.sub(r"\$\{FACE_SERVICE_API_KEY:\?[^}]*\}", KEY, text)
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def render() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "render.yaml").read_text())
    return document


def environment(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose()["services"][service]["environment"].items()}


def test_compose_runs_the_four_separate_containers() -> None:
    services = compose()["services"]
    assert set(services) == {"backend", "face-service", "postgres", "redis"}
    assert "ports" not in services["face-service"]
    assert services["backend"]["ports"] == ["3000:3000"]
    assert set(services["backend"]["depends_on"]) == {"postgres", "redis", "face-service"}


def test_compose_face_service_is_in_separate_mode_with_its_key() -> None:
    settings = FaceServiceSettings.from_env(environment("face-service"))
    settings.check()
    assert (settings.mode, settings.host, settings.api_key) == (Mode.SEPARATE, "0.0.0.0", KEY)


def test_compose_backend_reaches_the_face_service_with_the_same_key() -> None:
    settings = load_settings(environment("backend"))
    assert settings.face_service_url == "http://face-service:8000"
    assert settings.face_service_api_key == KEY
    assert settings.database_host == "postgres" and settings.redis_host == "redis"


@pytest.mark.parametrize("service", ["backend", "face-service"])
def test_compose_sets_only_known_variables(service: str) -> None:
    assert set(environment(service)) <= KNOWN


def web_service() -> dict[str, Any]:
    (web,) = [s for s in render()["services"] if s["type"] == "web"]
    return web


def test_render_blueprint_is_the_docker_web_service_with_health_check() -> None:
    web = web_service()
    assert web["runtime"] == "docker"
    assert (ROOT / web["dockerfilePath"]).is_file()
    # The readiness check that fails while face recognition is down, not /health.
    assert web["healthCheckPath"] == "/health/ready"


def test_render_runs_the_pack_its_image_bakes() -> None:
    """FACE_MODEL reaches the Docker build as the build argument too (Render passes
    environment variables as build arguments), so the default must agree as well."""
    (model,) = [e["value"] for e in web_service()["envVars"] if e["key"] == "FACE_MODEL"]
    build_default = next(
        args.split("=", 1)[1]
        for s in stages()
        for args in s.all("ARG")
        if args.startswith("FACE_MODEL=")
    )
    assert model == build_default == "buffalo_l"


def test_render_blueprint_sets_the_deployment_guide_variables() -> None:
    keys = {entry["key"] for entry in web_service()["envVars"]}
    assert keys <= KNOWN | {"NODE_ENV"}
    expected = {
        "DATABASE_HOST",
        "DATABASE_PORT",
        "DATABASE_USER",
        "DATABASE_PASSWORD",
        "DATABASE_NAME",
        "REDIS_URL",
        "JWT_ACCESS_SECRET",
        "JWT_REFRESH_SECRET",
        "JWT_ACCESS_EXPIRATION",
        "JWT_REFRESH_EXPIRATION",
        "QR_SECRET",
        "EMBEDDING_ENCRYPTION_KEY",
        "FRONTEND_URL",
        "PORT",
        "NODE_ENV",
        "SUPER_ADMIN_EMAIL",
        "RESEND_API_KEY",
        "EMAIL_FROM",
        "FACE_SERVICE_URL",
        "FACE_MODEL",
        "OMP_NUM_THREADS",
    }
    assert expected <= keys


def test_render_blueprint_commits_no_secret() -> None:
    secrets = {"JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET", "QR_SECRET", "EMBEDDING_ENCRYPTION_KEY"}
    for entry in web_service()["envVars"]:
        if entry["key"] in secrets | {"DATABASE_PASSWORD", "RESEND_API_KEY"}:
            assert "value" not in entry, entry["key"]
