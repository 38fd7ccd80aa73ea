"""Kiosk check-in upload throughput on loopback against PostgreSQL, beside a trivial
endpoint of the same server in the same run, and the same batches resent (dedupe path).

Creates a throwaway PostgreSQL database and Redis key prefix, seeds members and active
meetings, pairs a kiosk, starts one uvicorn process, and measures in interleaved
rounds: GET /health/live (trivial), POST /api/kiosk/checkins with new check-ins, and
the same batches sent again (every item answered from its idempotency key). Prints
check-ins/second, batch latency p50/p99 and the ratio of request rates to the trivial
endpoint, checks that the resends stored nothing, and cleans up. Under a minute:

    .venv/bin/python bench/bench_checkin_upload.py [--seconds 4] [--batch 50]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bench_backend import (
    PASSWORD,
    add_service_arguments,
    backend_process,
    measure,
    seeded_environment,
)
from sqlalchemy import func, select

from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.face_model import ServerFaceModel
from server.backend.models import AttendanceRecord, Meeting, Member, utcnow

Batch = dict[str, Any]


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per phase per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50, help="check-ins per request")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=20)
    add_service_arguments(parser)
    return parser.parse_args()


def seed_meetings(env: dict[str, str], count: int) -> tuple[list[str], list[str]]:
    """`count` active meetings expecting everyone; returns meeting and member ids."""
    engine = make_engine(load_settings(env))
    try:
        with make_session_factory(engine)() as session:
            begins = utcnow() - timedelta(minutes=5)
            meetings = [
                Meeting(
                    title=f"Bench meeting {i}",
                    starts_at=begins,
                    ends_at=begins + timedelta(hours=3),
                    late_after=begins + timedelta(hours=1),
                    status="active",
                    started_at=begins,
                    open_to_everyone=True,
                )
                for i in range(count)
            ]
            session.add_all(meetings)
            session.commit()
            members = [str(m) for m in session.scalars(select(Member.id))]
            return [str(m.id) for m in meetings], members
    finally:
        engine.dispose()


def batch_maker(
    meetings: list[str], members: list[str], size: int, model_id: str
) -> Callable[[], Batch]:
    """Batches of new check-ins: every (meeting, member) pair is used once."""
    pairs = itertools.product(meetings, members)
    lock = threading.Lock()

    def make() -> Batch:
        with lock:
            chunk = list(itertools.islice(pairs, size))
        if len(chunk) < size:
            raise RuntimeError("out of (meeting, member) pairs: raise --members or --meetings")
        now = datetime.now(UTC).isoformat()
        items = [
            {
                "key": uuid.uuid4().hex,
                "meeting_id": meeting,
                "member_id": member,
                "method": "face",
                "similarity": 0.7,
                "margin": 0.3,
                "device_time": now,
                "model_id": model_id,
            }
            for meeting, member in chunk
        ]
        return {"items": items, "sent_at": now}

    return make


def upload_phase(
    url: str, headers: dict[str, str], next_batch: Callable[[], Batch], seconds: float, workers: int
) -> tuple[list[float], list[Batch]]:
    """Batch latencies (seconds) and the batches sent, by `workers` threads back to back."""
    latencies: list[float] = []
    sent: list[Batch] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        batches: list[Batch] = []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while time.perf_counter() < stop:
                batch = next_batch()
                started = time.perf_counter()
                response = client.post("/api/kiosk/checkins", json=batch)
                mine.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"upload: HTTP {response.status_code} {response.text}")
                batches.append(batch)
        with lock:
            latencies.extend(mine)
            sent.extend(batches)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, sent


def cycler(batches: list[Batch]) -> Callable[[], Batch]:
    """Hand out already-sent batches again, round robin (the dedupe path)."""
    source: Iterator[Batch] = itertools.cycle(batches)
    lock = threading.Lock()

    def make() -> Batch:
        with lock:
            return next(source)

    return make


def pair_kiosk(url: str, email: str) -> dict[str, str]:
    login = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    paired = httpx.post(f"{url}/api/kiosks", json={"name": "Bench kiosk"}, headers=admin)
    return {"Authorization": f"Bearer {paired.json()['credential']}"}


def count_records(env: dict[str, str]) -> int:
    engine = make_engine(load_settings(env))
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(AttendanceRecord)) or 0)
    finally:
        engine.dispose()


def report(results: dict[str, list[float]], elapsed: dict[str, float], batch: int) -> None:
    baseline = len(results["trivial"]) / elapsed["trivial"]
    head = f"{'endpoint':<30}{'req/s':>8}{'check-ins/s':>13}{'p50 ms':>9}{'p99 ms':>9}"
    print(f"{head}{'req/s vs trivial':>18}")
    for name, latencies in results.items():
        ordered = sorted(latencies)
        rps = len(ordered) / elapsed[name]
        per_item = "" if name == "trivial" else f"{rps * batch:.0f}"
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        print(f"{name:<30}{rps:>8.0f}{per_item:>13}{p50:>9.2f}{p99:>9.2f}{rps / baseline:>17.3f}x")


def run(args: argparse.Namespace, env: dict[str, str], email: str) -> None:
    meetings, members = seed_meetings(env, args.meetings)
    model_id = ServerFaceModel(load_settings(env).face_model).model_id
    fresh = batch_maker(meetings, members, args.batch, model_id)
    with backend_process(env) as url:
        kiosk = pair_kiosk(url, email)
        measure(url, "/health/live", {}, 1.0, args.concurrency)  # warm-up
        names = ("trivial", "upload new check-ins", "resend (dedupe)")
        results: dict[str, list[float]] = {name: [] for name in names}
        elapsed = dict.fromkeys(names, 0.0)
        sent: list[Batch] = []
        for _ in range(args.rounds):
            results["trivial"] += measure(url, "/health/live", {}, args.seconds, args.concurrency)
            latencies, batches = upload_phase(url, kiosk, fresh, args.seconds, args.concurrency)
            results["upload new check-ins"] += latencies
            sent += batches
            stored = count_records(env)
            again, _ = upload_phase(url, kiosk, cycler(sent), args.seconds, args.concurrency)
            results["resend (dedupe)"] += again
            if count_records(env) != stored:
                raise RuntimeError("resent batches stored new records: idempotency is broken")
            for name in names:
                elapsed[name] += args.seconds
    print(
        f"{args.members} members, {args.meetings} active meetings, batches of {args.batch}, "
        f"{args.concurrency} client threads, one uvicorn worker, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per phase"
    )
    report(results, elapsed, args.batch)
    print(f"stored {count_records(env)} records from {len(sent) * args.batch} check-ins sent once")


def main() -> int:
    args = _parse()
    with seeded_environment(args) as (env, email):
        run(args, env, email)
    return 0


if __name__ == "__main__":
    sys.exit(main())
