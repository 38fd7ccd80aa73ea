"""`GET /metrics`: only for a scraper with METRICS_TOKEN, in Prometheus's format, with what
an operator alerts on; with BACKEND_WORKERS=2 the counts of both processes add up."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.backend.core.config import Settings
from server.backend.core.runner import share_metrics
from server.backend.tasks.backups.tasks import create_backup
from tests.server.attendance_utils import make_meeting, make_member
from tests.server.conftest import CONFIG_ENV, ClientFactory
from tests.server.kiosk_utils import model_id, pair_kiosk
from tests.server.live import answers, free_port
from tests.server.utils import admin_headers, bearer

TOKEN = secrets.token_hex(24)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels (parsed by the client's
    own parser, so a malformed exposition fails here)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers=bearer(TOKEN))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(answer.text)


@pytest.fixture
def metrics_client(make_client: ClientFactory, pg_settings: Settings) -> TestClient:
    return make_client(pg_settings.model_copy(update={"metrics_token": TOKEN}))


def test_there_is_no_metrics_route_without_a_token(client: TestClient) -> None:
    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 404


def test_a_scrape_without_the_token_is_refused(metrics_client: TestClient) -> None:
    for headers in ({}, bearer("not-" + TOKEN), {"Authorization": TOKEN}):
        answer = metrics_client.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert "Authorization: Bearer <METRICS_TOKEN>" in answer.text
        assert "sonta_" not in answer.text


def test_a_short_token_stops_start_up_naming_it(clean_env: None) -> None:
    from server.backend.core.config import load_settings  # noqa: PLC0415
    from server.backend.errors import ConfigError  # noqa: PLC0415

    with pytest.raises(ConfigError, match="METRICS_TOKEN must be at least 32 characters, got 5"):
        load_settings({"METRICS_TOKEN": "short"})


def test_kiosks_meetings_and_check_ins_are_reported(metrics_client: TestClient) -> None:
    admin = admin_headers(metrics_client)
    kiosk = pair_kiosk(metrics_client, admin, "Front door")
    heartbeat = {
        "app_version": "1.4.0",
        "model_id": model_id(metrics_client),
        "gallery_version": 3,
        "queue_depth": 7,
        "camera_state": "ok",
        "device_time": datetime.now(UTC).isoformat(),
    }
    assert metrics_client.post("/api/kiosk/heartbeat", json=heartbeat, headers=kiosk.headers)
    meeting = make_meeting(metrics_client, admin)
    member = make_member(metrics_client, admin)
    manual = metrics_client.post(
        f"/api/attendance/meetings/{meeting['id']}/manual",
        json={"member_id": member["id"]},
        headers=admin,
    )
    assert manual.status_code == 201, manual.text
    metrics_client.app.state.backend.events.flush()  # type: ignore[attr-defined]

    found = scrape(metrics_client)

    labels = (("kiosk", "Front door"), ("kiosk_id", kiosk.id))
    assert found[("sonta_kiosk_queue_depth", labels)] == 7
    assert 0 <= found[("sonta_kiosk_last_sync_age_seconds", labels)] < 120
    assert found[("sonta_meetings_active", ())] == 1
    assert found[("sonta_checkins_total", (("method", "manual"), ("outcome", "approved")))] == 1
    assert found[("sonta_db_pool_limit", ())] == 20
    assert found[("sonta_face_service_up", ())] == 0  # nothing listens at FACE_SERVICE_URL
    assert found[("sonta_http_requests_total", (("status", "2xx"),))] >= 5


def test_face_service_errors_and_refusals_are_counted(metrics_client: TestClient) -> None:
    admin = admin_headers(metrics_client)
    member = make_member(metrics_client, admin)
    consent = metrics_client.put(
        f"/api/members/{member['id']}/consent", json={"given": True}, headers=admin
    )
    assert consent.status_code == 200, consent.text
    photo = Path(__file__).resolve().parents[2] / "data" / "calibration" / "img1.jpg"
    answer = metrics_client.post(
        f"/api/members/{member['id']}/templates/photo",
        files={"photo": ("face.jpg", photo.read_bytes(), "image/jpeg")},
        headers=admin,
    )
    assert answer.status_code == 503, answer.text
    metrics_client.get("/api/members", headers={})  # a 401

    found = scrape(metrics_client)

    errors = (("kind", "unavailable"), ("operation", "embed"))
    assert found[("sonta_face_service_errors_total", errors)] == 1
    assert found[("sonta_face_service_request_seconds_count", (("operation", "embed"),))] == 1
    assert found[("sonta_http_requests_total", (("status", "5xx"),))] >= 1
    assert found[("sonta_http_requests_total", (("status", "4xx"),))] >= 1


def test_the_newest_backup_is_reported(
    make_client: ClientFactory, embedded_settings: Settings
) -> None:
    settings = embedded_settings.model_copy(update={"metrics_token": TOKEN})
    client = make_client(settings)
    assert ("sonta_last_backup_timestamp_seconds", ()) not in scrape(client)
    archive = create_backup(settings)
    found = scrape(client)
    assert found[("sonta_last_backup_timestamp_seconds", ())] == archive.stat().st_mtime


def _server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    return process, f"http://127.0.0.1:{port}"


def test_processes_sharing_the_metrics_folder_report_their_sum(
    server_env: dict[str, str], migrated: None, tmp_path: Path
) -> None:
    """What BACKEND_WORKERS' processes do (`runner.share_metrics` gives them the folder):
    whichever process answers a scrape reports every process's counts."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_ENV}
    env.update(server_env, HOME=str(tmp_path), METRICS_TOKEN=TOKEN)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    servers = [_server(env, tmp_path / f"server-{i}.log") for i in range(2)]
    try:
        for (process, url), i in zip(servers, range(2), strict=True):
            started = time.monotonic()
            while not answers(f"{url}/health/live"):
                log = (tmp_path / f"server-{i}.log").read_text()
                assert process.poll() is None, log
                assert time.monotonic() - started < 180, f"waited 180 s for an answer: {log}"
                time.sleep(0.2)
        for (_process, url), requests in zip(servers, (30, 11), strict=True):
            for _ in range(requests):
                assert httpx.get(f"{url}/health/live", timeout=10).status_code == 200
        totals = []
        for _process, url in servers:
            answer = httpx.get(f"{url}/metrics", headers=bearer(TOKEN), timeout=30)
            assert answer.status_code == 200, answer.text
            totals.append(samples(answer.text)[("sonta_http_requests_total", (("status", "2xx"),))])
        # 41 probes answered (and more: the readiness polls); one scrape counted before
        # the other. Either process alone saw at most 30 of the 41.
        assert totals[0] >= 41 and totals[1] >= totals[0] + 1, totals
        assert len(list(folder.glob("counter_*.db"))) == 2
    finally:
        for process, _url in servers:
            process.send_signal(signal.SIGTERM)
        for process, _url in servers:
            process.wait(timeout=30)


def test_workers_get_an_emptied_metrics_folder_of_their_own(
    monkeypatch: pytest.MonkeyPatch, embedded_settings: Settings
) -> None:
    # Set (empty: unset for share_metrics), so the test's end takes away what it sets.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    stale = embedded_settings.sonta_data_dir / "metrics" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"counts of a previous run")
    share_metrics(embedded_settings)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(stale.parent)
    assert list(stale.parent.iterdir()) == []
