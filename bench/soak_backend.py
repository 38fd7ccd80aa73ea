"""Soak: 6 kiosks uploading and 20 admins reading against two backend processes, with
each process's resident memory sampled every minute (target: growth < 10 % after warm-up).

One PostgreSQL database and one Redis prefix (throwaway), two uvicorn processes. Kiosks
alternate between the two backends, as behind a load balancer; each sends a batch of
20 check-ins, then pauses. Admins read their member search, their own account and a
meeting's attendance. Growth is measured from the end of the warm-up (one minute by
default) to the end; the machine's load average is printed beside each sample. At the
end every check-in must be stored exactly once. The default run is two minutes; the
full soak is thirty:

    .venv/bin/python bench/soak_backend.py [--minutes 30] [--trace]

`--trace` runs each backend under `bench/traced_backend.py` (tracemalloc, slower) and
prints the allocation sites that grew most between the end of warm-up and the end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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
TOP_SITES = 12
FRAMES_SHOWN = 8


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="soak length (full: 30)")
    parser.add_argument("--warm-up", type=float, default=60.0, help="seconds before the baseline")
    parser.add_argument("--trace", action="store_true", help="tracemalloc allocation sites")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between batches")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=200)
    add_service_arguments(parser)
    return parser.parse_args()


@contextmanager
def backend(env: dict[str, str], trace: bool) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    if trace:
        command = [sys.executable, str(ROOT / "bench" / "traced_backend.py"), "--port", str(port)]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.backend.main:app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a loaded machine starts slowly
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


class Sampler:
    """Each backend's RSS every minute, with the load average; snapshots when tracing."""

    def __init__(self, processes: dict[str, psutil.Process], trace: bool) -> None:
        self.processes = processes
        self.trace = trace
        self.rows: list[tuple[float, dict[str, float], float]] = []
        self.started = time.monotonic()
        self.signals = 0

    def sample(self) -> dict[str, float]:
        rss = {name: rss_mib(process) for name, process in self.processes.items()}
        self.rows.append((time.monotonic() - self.started, rss, os.getloadavg()[0]))
        if self.trace:
            for process in self.processes.values():
                process.send_signal(signal.SIGUSR2)
            self.signals += 1
        return rss

    def wait_for_dumps(self, folder: Path, timeout: float = 600) -> None:
        """Until every snapshot asked for is written (the first signal only starts tracing)."""
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            while len(list(folder.glob(f"{process.pid}-*.snap"))) < self.signals - 1:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"backend {process.pid} wrote too few snapshots")
                time.sleep(1)

    def run_until(self, stop_at: float, every: float = 60.0) -> None:
        while (left := stop_at - time.monotonic()) > 0:
            time.sleep(min(every, left))
            self.sample()

    def report(self) -> None:
        for elapsed, rss, load in self.rows:
            memory = "  ".join(f"{name} {value:6.1f} MiB" for name, value in rss.items())
            print(f"  {elapsed / 60:5.1f} min  {memory}  load {load:.1f}")


def top_growth(folder: Path, pid: int) -> None:
    """The allocation sites that grew most between the first and the last snapshot
    (largest growth first; a shrinking site is memory that was in flight at the start)."""
    snaps = sorted(folder.glob(f"{pid}-*.snap"), key=lambda p: int(p.stem.split("-")[1]))
    if len(snaps) < 2:
        print(f"  (fewer than two snapshots from {pid})")
        return
    first = tracemalloc.Snapshot.load(str(snaps[0]))
    last = tracemalloc.Snapshot.load(str(snaps[-1]))
    noise = [tracemalloc.Filter(False, tracemalloc.__file__)]
    first, last = first.filter_traces(noise), last.filter_traces(noise)
    total = sum(s.size for s in last.statistics("filename")) - sum(
        s.size for s in first.statistics("filename")
    )
    print(f"  traced memory grew {total / 2**20:+.2f} MiB; top sites:")
    growing = sorted(last.compare_to(first, "lineno"), key=lambda stat: -stat.size_diff)
    for stat in growing[:TOP_SITES]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(f"    {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {where}")
    by_path = sorted(last.compare_to(first, "traceback"), key=lambda stat: -stat.size_diff)
    for stat in by_path[:3]:
        print(f"    {stat.size_diff / 1024:+9.1f} KiB from:")
        for line in stat.traceback.format(limit=FRAMES_SHOWN):
            print(f"      {line}")


def _start_load(
    args: argparse.Namespace, env: dict[str, str], urls: list[str], email: str
) -> tuple[Load, list[threading.Thread]]:
    meetings, members = seed_meetings(env, args.meetings)
    model_id = ServerFaceModel(load_settings(env).face_model).model_id
    make = batch_maker(meetings, members, args.batch, model_id)
    kiosks = pair_kiosks(urls[0], email, KIOSKS)
    admins = []
    for _ in range(ADMINS):
        login = httpx.post(f"{urls[1]}/api/auth/login", json={"email": email, "password": PASSWORD})
        admins.append({"Authorization": f"Bearer {login.json()['access_token']}"})
    load = Load(urls, time.monotonic() + args.warm_up + args.minutes * 60)
    threads = [
        threading.Thread(target=load.kiosk, args=(n, k, make, args.pause))
        for n, k in enumerate(kiosks)
    ]
    threads += [
        threading.Thread(target=load.admin, args=(n, h, meetings[0])) for n, h in enumerate(admins)
    ]
    for thread in threads:
        thread.start()
    return load, threads


def main() -> int:
    args = _parse()
    snapshots = Path(tempfile.mkdtemp(prefix="soak-snapshots-"))
    with seeded_environment(args) as (env, email):
        served = {**env, "SOAK_SNAPSHOT_DIR": str(snapshots)}
        with (
            backend(served, args.trace) as (url_a, proc_a),
            backend(served, args.trace) as (url_b, proc_b),
        ):
            load, threads = _start_load(args, env, [url_a, url_b], email)
            sampler = Sampler({"A": proc_a, "B": proc_b}, args.trace)
            sampler.sample()
            time.sleep(args.warm_up)
            start = sampler.sample()
            sampler.run_until(load.stop_at)
            for thread in threads:
                thread.join()
            end = sampler.sample()
            if args.trace:
                sampler.wait_for_dumps(snapshots)
            pids = {"A": proc_a.pid, "B": proc_b.pid}
        stored = count_records(env)
    expected = len(load.sent) * args.batch
    print(
        f"{args.minutes:g} min after {args.warm_up:g} s of warm-up, {KIOSKS} kiosks "
        f"(batches of {args.batch}), {ADMINS} admins{', traced' if args.trace else ''}"
    )
    sampler.report()
    for name in ("A", "B"):
        growth = (end[name] / start[name] - 1) * 100
        print(f"backend {name}: RSS {start[name]:.1f} MiB -> {end[name]:.1f} MiB ({growth:+.1f} %)")
        if args.trace:
            top_growth(snapshots, pids[name])
    shutil.rmtree(snapshots)
    print("answers:", dict(sorted(load.statuses.items())))
    print(f"check-ins accepted: {expected}; records stored: {stored}")
    return 0 if stored == expected else 1


if __name__ == "__main__":
    sys.exit(main())
