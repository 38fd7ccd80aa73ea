"""Soak: 6 kiosks uploading and 20 admins reading against two backend processes, with
each process's resident memory at the start and at the end (issue 15: growth ≤ 10 %).

One PostgreSQL database and one Redis prefix (throwaway), two uvicorn processes. Kiosks
alternate between the two backends, as behind a load balancer; each sends a batch of
20 check-ins, then pauses. Admins read their member search, their own account and a
meeting's attendance. At the end every check-in must be stored exactly once. The
default run is one minute; the issue's full run is ten:

    .venv/bin/python bench/soak_backend.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import psutil
from bench_backend import (
    PASSWORD,
    ROOT,
    _answers,
    add_service_arguments,
    free_port,
    seeded_environment,
)
from bench_checkin_upload import Batch, batch_maker, count_records, seed_meetings
from bench_ingest_kiosks import pair_kiosks

from server.backend.core.config import load_settings
from server.backend.face_model import ServerFaceModel

KIOSKS = 6
ADMINS = 20
WARM_UP = 5.0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="soak length (issue: 10)")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between batches")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=200)
    add_service_arguments(parser)
    return parser.parse_args()


@contextmanager
def backend(env: dict[str, str]) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.backend.main:app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{url}/health/live"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the backend did not start; see its log above")
            time.sleep(0.1)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def rss_mib(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


class Load:
    """The kiosk and admin threads, counting answers by status."""

    def __init__(self, urls: list[str], stop_at: float) -> None:
        self.urls = urls
        self.stop_at = stop_at
        self.statuses: Counter[str] = Counter()
        self.sent: list[Batch] = []
        self._lock = threading.Lock()

    def _count(self, kind: str, status: int) -> None:
        with self._lock:
            self.statuses[f"{kind} {status}"] += 1

    def kiosk(
        self, number: int, headers: dict[str, str], make: Callable[[], Batch], pause: float
    ) -> None:
        for url in itertools.cycle(self.urls[number % 2 :] + self.urls[: number % 2]):
            if time.monotonic() >= self.stop_at:
                return
            batch = make()
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                answer = client.post("/api/kiosk/checkins", json=batch)
            self._count("upload", answer.status_code)
            if answer.status_code == 200:
                with self._lock:
                    self.sent.append(batch)
            time.sleep(pause)

    def admin(self, number: int, headers: dict[str, str], meeting: str) -> None:
        paths = [
            "/api/members?q=mensah&limit=20",
            "/api/auth/me",
            f"/api/attendance?meeting_id={meeting}&limit=50",
        ]
        with httpx.Client(base_url=self.urls[number % 2], headers=headers, timeout=60) as client:
            for path in itertools.cycle(paths):
                if time.monotonic() >= self.stop_at:
                    return
                self._count("read", client.get(path).status_code)


def main() -> int:
    args = _parse()
    with seeded_environment(args) as (env, email):
        meetings, members = seed_meetings(env, args.meetings)
        model_id = ServerFaceModel(load_settings(env).face_model).model_id
        make = batch_maker(meetings, members, args.batch, model_id)
        with backend(env) as (url_a, proc_a), backend(env) as (url_b, proc_b):
            kiosks = pair_kiosks(url_a, email, KIOSKS)
            admins = []
            for _ in range(ADMINS):
                login = httpx.post(
                    f"{url_b}/api/auth/login", json={"email": email, "password": PASSWORD}
                )
                admins.append({"Authorization": f"Bearer {login.json()['access_token']}"})
            load = Load([url_a, url_b], time.monotonic() + WARM_UP + args.minutes * 60)
            threads = [
                threading.Thread(target=load.kiosk, args=(n, k, make, args.pause))
                for n, k in enumerate(kiosks)
            ]
            threads += [
                threading.Thread(target=load.admin, args=(n, h, meetings[0]))
                for n, h in enumerate(admins)
            ]
            for thread in threads:
                thread.start()
            time.sleep(WARM_UP)
            start = {"A": rss_mib(proc_a), "B": rss_mib(proc_b)}
            for thread in threads:
                thread.join()
            end = {"A": rss_mib(proc_a), "B": rss_mib(proc_b)}
        stored = count_records(env)
    expected = len(load.sent) * args.batch
    print(f"{args.minutes:g} min, {KIOSKS} kiosks (batches of {args.batch}), {ADMINS} admins")
    for name in ("A", "B"):
        growth = (end[name] / start[name] - 1) * 100
        print(f"backend {name}: RSS {start[name]:.1f} MiB -> {end[name]:.1f} MiB ({growth:+.1f} %)")
    print("answers:", dict(sorted(load.statuses.items())))
    print(f"check-ins accepted: {expected}; records stored: {stored}")
    return 0 if stored == expected else 1


if __name__ == "__main__":
    sys.exit(main())
