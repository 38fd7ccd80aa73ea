"""Attendance reports at scale: the overview, trends and one meeting's report over HTTP,
beside the trivial endpoint, and trends in-process beside the member-by-member
definition (every member asked `attendance.is_expected` for every meeting, as trends
were computed before).

Seeds a throwaway database with members, ended meetings (a third expect everyone, the
rest two ministries) and approved check-ins, then times each request one at a time:

    .venv/bin/python bench/bench_reports.py [--members 50000] [--meetings 60] [--checkins 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from bench_backend import (
    MINISTRIES,
    PASSWORD,
    add_service_arguments,
    backend_process,
    seeded_environment,
)
from sqlalchemy import select

from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.models import AttendanceRecord, Meeting, Member
from server.backend.services import attendance, reports


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50000)
    parser.add_argument("--meetings", type=int, default=60)
    parser.add_argument("--checkins", type=int, default=300, help="per meeting")
    parser.add_argument("--repeats", type=int, default=3)
    add_service_arguments(parser)
    return parser.parse_args()


def seed_meetings(env: dict[str, str], meetings: int, checkins: int) -> str:
    """Ended meetings with approved check-ins; returns the last meeting's id."""
    rng = random.Random(15)
    engine = make_engine(load_settings(env))
    now = datetime.now(UTC)
    try:
        with make_session_factory(engine)() as session:
            ids = list(session.scalars(select(Member.id)))
            for n in range(meetings):
                starts = now - timedelta(days=3 * n + 1)
                meeting = Meeting(
                    title=f"Meeting {n}",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    status="ended",
                    expected_ministries=[] if n % 3 == 0 else rng.sample(MINISTRIES, 2),
                )
                session.add(meeting)
                session.flush()
                session.add_all(
                    AttendanceRecord(
                        meeting_id=meeting.id,
                        member_id=member_id,
                        method="face",
                        status="approved",
                        late=rng.random() < 0.2,
                    )
                    for member_id in rng.sample(ids, min(checkins, len(ids)))
                )
            session.commit()
            return str(meeting.id)
    finally:
        engine.dispose()


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def trends_by_definition(env: dict[str, str]) -> int:
    """Expected people over all meetings, member by member (the old way)."""
    engine = make_engine(load_settings(env))
    try:
        with make_session_factory(engine)() as session:
            members = session.scalars(select(Member)).all()
            took = session.scalars(select(Meeting).where(Meeting.status == "ended")).all()
            seen = set(
                session.execute(select(AttendanceRecord.meeting_id, AttendanceRecord.member_id))
            )
            return sum(
                1
                for meeting in took
                for member in members
                if (meeting.id, member.id) in seen or attendance.is_expected(meeting, member)
            )
    finally:
        engine.dispose()


def trends_now(env: dict[str, str]) -> int:
    engine = make_engine(load_settings(env))
    try:
        with make_session_factory(engine)() as session:
            return sum(p.expected for p in reports.trends(session, period="month").points)
    finally:
        engine.dispose()


def main() -> int:
    args = _parse()
    with seeded_environment(args) as (env, email):
        meeting_id = seed_meetings(env, args.meetings, args.checkins)
        assert trends_now(env) == trends_by_definition(env), "trends disagree with the definition"
        in_process = {
            "trends, member by member (before)": median_ms(lambda: trends_by_definition(env), 1),
            "trends, per ministry (now)": median_ms(lambda: trends_now(env), args.repeats),
        }
        with backend_process(env) as url, httpx.Client(base_url=url, timeout=300) as client:
            token = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            paths = {
                "trivial": "/health/live",
                "GET /api/reports/overview": "/api/reports/overview",
                "GET /api/reports/trends": "/api/reports/trends?period=month",
                "GET /api/reports/trends?ministry": f"/api/reports/trends?ministry={MINISTRIES[0]}",
                "GET /api/reports/meetings/{id}": f"/api/reports/meetings/{meeting_id}",
            }
            over_http = {
                name: median_ms(lambda path=path: client.get(path).raise_for_status(), args.repeats)
                for name, path in paths.items()
            }
    print(
        f"{args.members} members, {args.meetings} ended meetings, "
        f"{args.checkins} check-ins each; medians of {args.repeats}"
    )
    baseline = in_process["trends, member by member (before)"]
    for name, ms in in_process.items():
        print(f"{name:<40}{ms:>10.1f} ms{baseline / ms:>9.1f}x faster than before")
    trivial = over_http["trivial"]
    for name, ms in over_http.items():
        print(f"{name:<40}{ms:>10.1f} ms{ms / trivial:>9.0f}x the trivial endpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
