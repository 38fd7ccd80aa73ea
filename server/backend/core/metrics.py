"""The backend's Prometheus metrics (`GET /metrics`, on when METRICS_TOKEN is set).

Two kinds:
- counted as things happen (requests by status class, check-ins by method and outcome,
  phone and kiosk decision latency, face-service latency and errors): `Metrics`, one
  per app. With several backend processes (BACKEND_WORKERS) `runner.serve` sets
  PROMETHEUS_MULTIPROC_DIR before the workers start, and prometheus-client's
  multiprocess mode sums every worker's files at each scrape, whichever worker answers;
- read at scrape time from the shared state (each kiosk's last-sync age and queue depth,
  open meetings, the database pool, the face-service's health, the newest backup):
  `StateCollector`, so every worker reports the same values.

Labels take few values (methods, outcomes, status classes, operations; kiosks are few).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.backend.core.db import pool_usage

if TYPE_CHECKING:
    from server.backend.core.context import Backend

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Route templates whose requests decide a check-in, and the channel each decides for.
DECISION_ROUTES = {"/api/checkin/phone": "phone", "/api/kiosk/checkins": "kiosk"}
# A phone decision includes the face-service's embedding; a kiosk batch may hold 500.
DECISION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
FACE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and histograms updated by the backend as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sonta_http_requests",
            "HTTP requests answered, by status class (2xx, 4xx, 5xx, ...)",
            ["status"],
            registry=self.registry,
        )
        self.checkins = Counter(
            "sonta_checkins",
            "Check-ins decided, by method (face, phone, ...) and outcome (approved, "
            "pending_review, rejected, refused)",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.decisions = Histogram(
            "sonta_checkin_decision_seconds",
            "Time to answer a check-in request, by channel (phone, kiosk batch)",
            ["channel"],
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.face_calls = Histogram(
            "sonta_face_service_request_seconds",
            "Face-service calls, by operation (detect, embed, compare)",
            ["operation"],
            buckets=FACE_BUCKETS,
            registry=self.registry,
        )
        self.face_errors = Counter(
            "sonta_face_service_errors",
            "Face-service calls that failed, by operation and kind (unavailable, refused, failed)",
            ["operation", "kind"],
            registry=self.registry,
        )

        self.publish_failures = Counter(
            "sonta_live_event_publish_failures",
            "Live events (attendance changes for open screens) that could not be published",
            registry=self.registry,
        )

    def observe_face_call(self, operation: str, seconds: float, error: str | None) -> None:
        self.face_calls.labels(operation).observe(seconds)
        if error is not None:
            self.face_errors.labels(operation, error).inc()

    def observe_event(self, _channel: str, message: str) -> None:
        """Count a check-in from the live event announcing it (recorded or refused)."""
        try:
            event = json.loads(message)
            kind, record = event["type"], event["record"]
            if kind == "attendance.recorded":
                self.checkins.labels(str(record["method"]), str(record["status"])).inc()
            elif kind == "attempt.recorded":
                self.checkins.labels(str(record.get("method") or "phone"), "refused").inc()
        except (ValueError, KeyError, TypeError):
            return


def render(backend: Backend) -> bytes:
    """The exposition text: this process's (or every worker's) counts and the state."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(backend.metrics.registry))
    registry.register(StateCollector(backend))
    return generate_latest(registry)


class _Forward(Collector):
    """Another registry's metrics, collected into this one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()


class StateCollector(Collector):
    """Gauges read at scrape time from the database, the pool, the face-service and the
    backup folder."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        yield from self._kiosks()
        pool = pool_usage(self._backend.engine)
        yield _gauge("sonta_db_pool_in_use", "Database connections in use", pool["in_use"])
        yield _gauge("sonta_db_pool_limit", "Database connections allowed", pool["limit"])
        up = 1.0 if self._backend.face_service.state().ready else 0.0
        yield _gauge("sonta_face_service_up", "1 when the face-service answers healthy", up)
        newest = _newest_backup(self._backend)
        if newest is not None:
            yield _gauge(
                "sonta_last_backup_timestamp_seconds",
                "When the newest archive in the backup folder was written (Unix time)",
                newest,
            )

    def _kiosks(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        age = GaugeMetricFamily(
            "sonta_kiosk_last_sync_age_seconds",
            "Seconds since each kiosk's last heartbeat or upload",
            labels=["kiosk", "kiosk_id"],
        )
        depth = GaugeMetricFamily(
            "sonta_kiosk_queue_depth",
            "Check-ins waiting in each kiosk's outbox, as it last reported",
            labels=["kiosk", "kiosk_id"],
        )
        with self._backend.probe_engine.connect() as connection:
            kiosks = connection.execute(
                text(
                    "SELECT id, name, last_seen_at, queue_depth FROM kiosks "
                    "WHERE revoked_at IS NULL AND last_seen_at IS NOT NULL"
                )
            ).all()
            active = connection.execute(
                text("SELECT count(*) FROM meetings WHERE status = 'active'")
            ).scalar_one()
        for kiosk_id, name, seen, queued in kiosks:
            seen_at = seen if isinstance(seen, datetime) else datetime.fromisoformat(str(seen))
            if seen_at.tzinfo is None:
                seen_at = seen_at.replace(tzinfo=UTC)
            labels = [str(name), str(kiosk_id)]
            age.add_metric(labels, max(0.0, (now - seen_at).total_seconds()))
            depth.add_metric(labels, float(queued))
        yield age
        yield depth
        yield _gauge("sonta_meetings_active", "Meetings open for check-in now", active)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _newest_backup(backend: Backend) -> float | None:
    settings = backend.settings
    folder = settings.backup_dir or settings.sonta_data_dir / "backups"
    try:
        times = [p.stat().st_mtime for p in folder.glob("sonta-backup-*.tar.gz")]
    except OSError:
        return None
    return max(times) if times else None


class RequestMetrics:
    """ASGI middleware: every answer's status class, and the decision routes' latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, remember)
        finally:
            self.metrics.requests.labels(f"{status // 100}xx").inc()
            route = scope.get("route")
            channel = DECISION_ROUTES.get(getattr(route, "path", ""))
            if channel is not None:
                self.metrics.decisions.labels(channel).observe(time.perf_counter() - started)
