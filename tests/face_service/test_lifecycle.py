"""Model loading states and the API key of the separate-container setup, on real
in-process servers whose model loading the test controls; and the bounded work queue."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
import pytest

from kiosk.inference.engine import EngineConfig, FaceEngine
from server.face_service.app import create_app
from server.face_service.errors import UnavailableError
from server.face_service.runtime import InferenceRunner
from server.face_service.settings import FaceServiceSettings, Mode
from tests.face_service.conftest import ThreadedServer, offline_settings
from tests.kiosk.conftest import photo_path

pytestmark = [pytest.mark.model, pytest.mark.network]


def get(url: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{url}{path}", timeout=10, trust_env=False, **kwargs)  # type: ignore[arg-type]


def post_photo(url: str, **kwargs: object) -> httpx.Response:
    image = photo_path("obama").read_bytes()
    return httpx.post(
        f"{url}/embed",
        files={"image": ("a.jpg", image)},
        timeout=30,
        trust_env=False,
        **kwargs,  # type: ignore[arg-type]
    )


def test_health_says_loading_until_the_model_is_ready(
    tmp_path: Path, offline_engine: FaceEngine
) -> None:
    release = threading.Event()

    def slow_loader() -> FaceEngine:
        release.wait(30)
        return offline_engine

    app = create_app(offline_settings(tmp_path), loader=slow_loader)
    with ThreadedServer(app) as server:
        loading = get(server.url, "/health")
        assert loading.status_code == 503
        assert loading.json() == {
            "status": "loading",
            "model": "vectron",
            "model_loaded": False,
            "licence": "non-commercial",
        }
        refused = post_photo(server.url)
        assert refused.status_code == 503
        assert "still loading" in refused.json()["detail"]
        assert refused.headers["Retry-After"] == "2"
        release.set()
        app.state.model.wait_loaded(10)
        assert get(server.url, "/health").json()["status"] == "healthy"
        assert post_photo(server.url).status_code == 200


def test_a_missing_pack_is_reported_unhealthy_not_fatal(tmp_path: Path) -> None:
    # buffalo_l cannot be downloaded here, and downloads are off: a real resolution failure.
    engine = EngineConfig(pack="buffalo_l", cache_dir=tmp_path / "empty", allow_download=False)
    app = create_app(FaceServiceSettings(engine=engine))
    with ThreadedServer(app) as server:
        app.state.model.wait_loaded(30)
        response = get(server.url, "/health")
        assert response.status_code == 503
        body = response.json()
        assert (body["status"], body["model"], body["model_loaded"]) == (
            "unhealthy",
            "buffalo_l",
            False,
        )
        assert "sonta face fetch buffalo_l" in body["detail"]
        assert post_photo(server.url).status_code == 503


def test_separate_mode_requires_the_api_key_on_every_request(
    tmp_path: Path, offline_engine: FaceEngine
) -> None:
    key = secrets.token_urlsafe(32)
    settings = offline_settings(tmp_path, mode=Mode.SEPARATE, api_key=key)
    settings.check()
    app = create_app(settings, loader=lambda: offline_engine)
    with ThreadedServer(app) as server:
        app.state.model.wait_loaded(10)
        for headers in ({}, {"X-API-Key": key[:-1] + "x"}, {"X-API-Key": ""}):
            assert get(server.url, "/health", headers=headers).status_code == 401
            refused = post_photo(server.url, headers=headers)
            assert refused.status_code == 401
            assert "X-API-Key" in refused.json()["detail"]
        assert get(server.url, "/health", headers={"X-API-Key": key}).status_code == 200
        assert post_photo(server.url, headers={"X-API-Key": key}).status_code == 200


def test_work_beyond_the_queue_is_refused_as_busy() -> None:
    runner_started = threading.Event()
    release = threading.Event()

    def blocking() -> str:
        runner_started.set()
        release.wait(10)
        return "done"

    async def scenario() -> tuple[str, str]:
        runner = InferenceRunner(workers=1, max_waiting=0)
        async with anyio.create_task_group() as group:
            results: list[str] = []

            async def first() -> None:
                results.append(await runner.run(blocking))

            group.start_soon(first)
            await anyio.to_thread.run_sync(runner_started.wait)
            with pytest.raises(UnavailableError) as refused:
                await runner.run(blocking)
            release.set()
        return results[0], refused.value.message

    done, message = anyio.run(scenario)
    assert done == "done"
    assert "busy" in message
