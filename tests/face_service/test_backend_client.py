"""The backend's face-service client against real face-services: readiness with backoff,
the state in the backend's /health, and failures mapped to the backend's errors."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kiosk.inference.engine import EngineConfig, FaceEngine
from server.backend.core.config import load_settings
from server.backend.errors import BadRequestError, ConflictError, FaceServiceUnavailableError
from server.backend.main import create_app as create_backend
from server.backend.services.face_client import FaceServiceClient
from server.face_service.app import create_app
from server.face_service.schemas import ReferenceEmbedding
from server.face_service.settings import FaceServiceSettings, Mode
from tests.face_service.conftest import ServiceProcess, ThreadedServer, free_port, offline_settings
from tests.kiosk.conftest import photo_path

pytestmark = [pytest.mark.model, pytest.mark.network]

HEALTHY = {
    "status": "healthy",
    "model": "vectron",
    "model_loaded": True,
    "licence": "non-commercial",
}


def photo(name: str) -> bytes:
    return photo_path(name).read_bytes()


@pytest.fixture
def client(face_service: ServiceProcess) -> Iterator[FaceServiceClient]:
    client = FaceServiceClient(face_service.url)
    yield client
    client.close()


@pytest.fixture
def nowhere() -> Iterator[FaceServiceClient]:
    client = FaceServiceClient(f"http://127.0.0.1:{free_port()}")
    yield client
    client.close()


def test_health_passes_the_face_service_report_through(client: FaceServiceClient) -> None:
    assert client.health() == HEALTHY


def test_embed_detect_and_compare_return_typed_answers(client: FaceServiceClient) -> None:
    enrolled = client.embed(photo("obama2"))
    assert enrolled.model_id == "vectron@9cc6e4a75f0e2bf0" and len(enrolled.embedding) == 512
    assert len(client.detect(photo("t1")).faces) == 6
    reference = ReferenceEmbedding(
        id="template-1", model_id=enrolled.model_id, vector=enrolled.embedding
    )
    verdict = client.compare(photo("obama3"), references=[reference])
    assert (verdict.best.id, verdict.best.band) == ("template-1", "accept")
    assert client.compare(photo("obama"), other=photo("biden")).best.band == "reject"


def test_refusals_become_the_backends_4xx(client: FaceServiceClient) -> None:
    with pytest.raises(BadRequestError) as not_image:
        client.embed(b"plain text, not a photo")
    assert not_image.value.status_code == 422
    assert "not an image" in not_image.value.message
    with pytest.raises(BadRequestError) as several:
        client.embed(photo("t1"))
    assert several.value.details == {
        "issues": ["multiple_faces"],
        "reasons": [
            "More than one face. Only the person enrolling should be in the picture.",
        ],
    }
    stranger = ReferenceEmbedding(model_id="buffalo_l@4c06341c33c2ca1f", vector=[0.1] * 512)
    with pytest.raises(ConflictError) as mismatch:
        client.compare(photo("obama"), references=[stranger])
    assert mismatch.value.status_code == 409


def test_an_absent_face_service_is_a_clear_503(nowhere: FaceServiceClient) -> None:
    assert nowhere.health() == {"status": "unavailable", "detail": "connection refused"}
    with pytest.raises(FaceServiceUnavailableError) as refused:
        nowhere.embed(photo("obama"))
    assert refused.value.status_code == 503
    assert "unavailable (connection refused)" in refused.value.message


def test_wait_backs_off_until_the_model_is_loaded(
    tmp_path: Path, offline_engine: FaceEngine
) -> None:
    release = threading.Event()

    def slow_loader() -> FaceEngine:
        release.wait(30)
        return offline_engine

    app = create_app(offline_settings(tmp_path), loader=slow_loader)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 4:
            release.set()
        time.sleep(seconds)

    with ThreadedServer(app) as server:
        client = FaceServiceClient(server.url)
        assert client.health() == {
            "status": "loading",
            "model": "vectron",
            "model_loaded": False,
            "licence": "non-commercial",
        }
        state = client.wait_until_ready(30, sleep=sleep)
        client.close()
    assert state.ready and state.model == "vectron"
    assert pauses[:4] == [0.25, 0.5, 1.0, 2.0]


def test_wait_stops_at_once_when_the_model_cannot_load(tmp_path: Path) -> None:
    engine = EngineConfig(pack="buffalo_l", cache_dir=tmp_path, allow_download=False)
    app = create_app(FaceServiceSettings(engine=engine))
    with ThreadedServer(app) as server:
        app.state.model.wait_loaded(30)
        client = FaceServiceClient(server.url)
        started = time.monotonic()
        state = client.wait_until_ready(60)
        client.close()
    assert state.status == "unhealthy" and "buffalo_l" in (state.detail or "")
    assert time.monotonic() - started < 5


def test_wait_is_bounded_by_its_timeout(nowhere: FaceServiceClient) -> None:
    started = time.monotonic()
    assert nowhere.wait_until_ready(1.0).status == "unavailable"
    assert time.monotonic() - started < 3


def backend(tmp_path: Path, url: str, **env: str) -> TestClient:
    settings = load_settings(
        {"SONTA_DATA_DIR": str(tmp_path / "data"), "FACE_SERVICE_URL": url, **env}
    )
    return TestClient(create_backend(settings))


def test_backend_logs_and_reports_the_face_service(
    tmp_path: Path, face_service: ServiceProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.backend")
    with backend(tmp_path, face_service.url, FACE_MODEL="vectron") as api:
        assert api.get("/health").json()["face_service"] == HEALTHY
        ready = api.get("/health/ready")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    assert "Face service is ready (model: vectron)" in caplog.messages
    client_warnings = [
        r for r in caplog.records if r.name.endswith("face_client") and r.levelno >= logging.WARNING
    ]
    assert client_warnings == []


def test_backend_warns_when_the_face_service_runs_another_model(
    tmp_path: Path, face_service: ServiceProcess, caplog: pytest.LogCaptureFixture
) -> None:
    with backend(tmp_path, face_service.url, FACE_MODEL="buffalo_l"):
        pass
    assert any("runs model vectron but FACE_MODEL here is buffalo_l" in m for m in caplog.messages)


def test_backend_starts_without_the_face_service_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with backend(tmp_path, url) as api:
        response = api.get("/health")
        ready = api.get("/health/ready")
    assert response.status_code == 200
    # A platform's health check fails: a server without face recognition fails its deploy.
    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready", "database": "ok", "face_service": "unavailable"}
    assert response.json()["database"] == "ok"
    assert response.json()["face_service"]["status"] == "unavailable"
    assert caplog.messages[-1].startswith(
        f"Face recognition is unavailable: the face-service at {url} is unavailable "
        "(connection refused). "
        "Face check-ins and enrolment answer 503 until the face-service is ready"
    )


def test_a_model_that_cannot_load_is_start_ups_last_line_and_not_public(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The default model missing: the operator reads why at the end of the log; /health
    says "degraded" without the reason (paths and rebuild advice are the operator's)."""
    engine = EngineConfig(pack="buffalo_l", cache_dir=tmp_path / "empty", allow_download=False)
    app = create_app(FaceServiceSettings(engine=engine))
    caplog.set_level(logging.INFO, logger="server.backend")
    with ThreadedServer(app) as server:
        app.state.model.wait_loaded(30)
        with backend(tmp_path, server.url) as api:
            startup = list(caplog.messages)
            body = api.get("/health").json()
    assert startup[-2].startswith("Backend ready")
    assert startup[-1].startswith(
        "Face recognition is unavailable: Face model pack 'buffalo_l' is not available: "
    )
    assert body["status"] == "degraded"
    assert body["face_service"] == {
        "status": "unhealthy",
        "model": "buffalo_l",
        "model_loaded": False,
        "licence": "non-commercial",
    }
    assert "empty" not in json.dumps(body)


def test_backend_sends_its_api_key_in_the_separate_setup(
    tmp_path: Path, offline_engine: FaceEngine
) -> None:
    key = "s" * 8 + "0123456789abcdef0123456789abcdef"
    settings = offline_settings(tmp_path, mode=Mode.SEPARATE, api_key=key)
    app = create_app(settings, loader=lambda: offline_engine)
    with ThreadedServer(app) as server:
        app.state.model.wait_loaded(10)
        with backend(tmp_path, server.url, FACE_SERVICE_API_KEY=key) as api:
            assert api.get("/health").json()["face_service"]["status"] == "healthy"
        wrong = FaceServiceClient(server.url, api_key="w" * 40)
        with pytest.raises(FaceServiceUnavailableError, match="refused the backend's API key"):
            wrong.embed(photo("obama"))
        wrong.close()
