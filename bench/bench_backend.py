"""Backend throughput on loopback: an authenticated read and a member search against
PostgreSQL, beside a trivial unauthenticated endpoint of the same server in the same run.

Creates a throwaway PostgreSQL database and Redis key prefix, seeds members (four in
five with a face enrolled, as each search row says whether one is), starts the
backend as it ships (`sonta server`; `--workers` sets BACKEND_WORKERS), measures
requests/second and p50/p99 latency for each endpoint in interleaved rounds, prints the
ratios to the trivial endpoint and the CPU each request cost the backend, PostgreSQL and
the load generator (this process), and cleans up. The three share the machine's cores,
so the split shows which one bounds a rate; the last table sets each request's total CPU
beside what half the trivial rate allows, and each rate beside the cheapest signed-in
read's. Runs in well under a minute:

    .venv/bin/python bench/bench_backend.py [--seconds 4] [--rounds 2] [--concurrency 4]
        [--members 2000] [--workers 1]

With `--compare-members 50000` it runs the searches against two servers side by side,
one on `--members` and one on 50,000 members (seeding takes a minute or two), and prints
each search's rate at scale as a ratio of its rate on the small database.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psycopg
import redis
from sqlalchemy import Engine, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.inference import get_pack_spec  # noqa: E402
from server.backend import member_codes  # noqa: E402
from server.backend.core.config import load_settings  # noqa: E402
from server.backend.core.db import make_engine, make_session_factory  # noqa: E402
from server.backend.core.security.passwords import PasswordHasher  # noqa: E402
from server.backend.core.security.templates import TemplateCipher  # noqa: E402
from server.backend.crud import admins as admins_crud  # noqa: E402
from server.backend.crud import templates as templates_crud  # noqa: E402
from server.backend.models import FaceTemplate, Member  # noqa: E402
from server.backend.schemas.resources import AdminCreate  # noqa: E402
from server.backend.tasks.migrate import upgrade_to_head  # noqa: E402

PASSWORD = "benchmark passphrase 123"
MINISTRIES = ("Choir", "Ushering", "Media", "Prayer", "Protocol", "Children")
NAMES = ("Ama", "Kofi", "Esi", "Kwame", "Akosua", "Yaw", "Adwoa", "Kojo", "Abena", "Kwabena")
SURNAMES = ("Mensah", "Boateng", "Owusu", "Asante", "Osei", "Appiah", "Darko", "Agyeman")
# One member in this many has no face enrolled (joined since, or said no); the others
# have one of the server's recogniser, as each search row says whether one exists.
UNENROLLED_EVERY = 5


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per endpoint per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="BACKEND_WORKERS")
    parser.add_argument(
        "--compare-members",
        type=int,
        default=0,
        help="also seed a second database with this many members (e.g. 50000) and run the "
        "same searches on both, interleaved: each one's rate at scale beside its rate at "
        "--members, and the rare-term search beside /api/auth/me",
    )
    add_service_arguments(parser)
    return parser.parse_args()


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Where PostgreSQL and Redis answer: every backend benchmark takes these."""
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)


@contextmanager
def throwaway_database(args: argparse.Namespace) -> Iterator[str]:
    name = f"sonta_bench_{secrets.token_hex(5)}"
    admin = {"host": args.pg_host, "port": args.pg_port, "user": args.pg_user, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield name
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def environment(args: argparse.Namespace, database: str, prefix: str) -> dict[str, str]:
    return {
        "JWT_ACCESS_SECRET": secrets.token_urlsafe(40),
        "JWT_REFRESH_SECRET": secrets.token_urlsafe(40),
        "QR_SECRET": secrets.token_urlsafe(40),
        "EMBEDDING_ENCRYPTION_KEY": secrets.token_hex(16),
        "FRONTEND_URL": "http://localhost:5173",
        "DATABASE_HOST": args.pg_host,
        "DATABASE_PORT": str(args.pg_port),
        "DATABASE_USER": args.pg_user,
        "DATABASE_NAME": database,
        "REDIS_HOST": args.redis_host,
        "REDIS_PORT": str(args.redis_port),
        "REDIS_KEY_PREFIX": prefix,
        "FACE_SERVICE_URL": "http://127.0.0.1:9",
    }


def seed(env: dict[str, str], members: int) -> str:
    """Schema, one admin, and `members` members; returns the admin's email."""
    engine = make_engine(load_settings(env))
    try:
        upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            email = "bench@example.org"
            admins_crud.create(
                session=session,
                admin_in=AdminCreate(email=email),
                password_hash=PasswordHasher().hash(PASSWORD),
            )
            session.add_all(
                Member(
                    full_name=f"{NAMES[i % len(NAMES)]} {SURNAMES[(i // 10) % len(SURNAMES)]} {i}",
                    ministry=MINISTRIES[i % len(MINISTRIES)],
                    email=f"member{i}@example.org",
                    member_code=_code(i),
                )
                for i in range(members)
            )
            session.commit()
        settle(engine, "members")
    finally:
        engine.dispose()
    return email


def enrol_faces(env: dict[str, str]) -> int:
    """A template of the server's recogniser for all but one in `UNENROLLED_EVERY`
    seeded members, sealed as the server seals them (random unit embeddings); returns
    how many."""
    settings = load_settings(env)
    if settings.embedding_encryption_key is None:
        raise SystemExit("the bench environment has no EMBEDDING_ENCRYPTION_KEY")
    cipher = TemplateCipher(settings.embedding_encryption_key)
    model_id = get_pack_spec(settings.face_model).model_id
    rng = np.random.default_rng(5)
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            ids = session.scalars(select(Member.id).order_by(Member.member_code)).all()
            rows = []
            for number, member_id in enumerate(ids):
                if number % UNENROLLED_EVERY == 0:
                    continue
                vector = rng.normal(size=512).astype(np.float32)
                vector /= np.linalg.norm(vector)
                rows.append(
                    templates_crud.sealed_columns(
                        cipher, vector, member_id=member_id, model_id=model_id
                    )
                )
            if rows:
                session.execute(insert(FaceTemplate), rows)
            session.commit()
        settle(engine, "face_templates")
        return len(rows)
    finally:
        engine.dispose()


def settle(engine: Engine, table: str) -> None:
    """What autovacuum does soon after a bulk import (since PostgreSQL 13 inserts alone
    start it): statistics, without which every search is planned blind, and the visibility
    map, without which an index-only scan still reads the table."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM (ANALYZE) {table}"))


def _code(number: int) -> str:
    """A distinct member code per seeded member (random ones collide at 50,000)."""
    digits = []
    for _ in range(member_codes.LENGTH):
        number, digit = divmod(number, len(member_codes.ALPHABET))
        digits.append(member_codes.ALPHABET[digit])
    return "".join(digits)


@contextmanager
def backend_process(env: dict[str, str]) -> Iterator[str]:
    with backend_server(env) as (url, _pid):
        yield url


@contextmanager
def backend_server(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The backend as it ships (`sonta server`, access log included, BACKEND_WORKERS as
    `env` says), its output kept in a temporary file; yields its URL and process id."""
    port = free_port()
    command = [sys.executable, "-m", "sonta.cli", "server", "--host", "127.0.0.1"]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "backend.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300  # a loaded machine starts slowly
            while not _answers(f"{url}/health/live"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the backend did not start:\n{log.read_text()[-4000:]}")
                time.sleep(0.1)
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=15)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def measure(
    url: str, path: str, headers: dict[str, str], seconds: float, workers: int
) -> list[float]:
    """Latencies (seconds) of requests sent back to back by `workers` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, headers=headers) as client:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = client.get(path)
                mine.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


class CpuMeter:
    """CPU seconds used by the backend process, PostgreSQL's processes and this one (the
    load generator), so each request's cost can be split between the three."""

    def __init__(self, backend_pid: int) -> None:
        self.backend_pid = backend_pid

    def read(self) -> tuple[float, float, float]:
        pids = _process_ids()
        postgres = [pid for pid in pids if _command(pid) == "postgres"]
        # With several workers, the backend is the supervisor and the workers it started.
        backend = [
            pid for pid in pids if pid == self.backend_pid or _parent(pid) == self.backend_pid
        ]
        own = resource.getrusage(resource.RUSAGE_SELF)
        return _cpu(backend), _cpu(postgres), own.ru_utime + own.ru_stime


def _process_ids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _cpu(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def report(
    results: dict[str, list[float]],
    elapsed: dict[str, float],
    cpu: dict[str, list[float]] | None = None,
) -> None:
    """Rates and latencies beside the trivial endpoint's; with `cpu`, the CPU each
    request cost the backend, PostgreSQL and the load generator (ms)."""
    baseline = len(results["trivial"]) / elapsed["trivial"]
    header = f"{'endpoint':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs trivial':>12}"
    print(header + ("  CPU ms/request: backend  postgres  client" if cpu else ""))
    for name, latencies in results.items():
        ordered = sorted(latencies)
        rps = len(ordered) / elapsed[name]
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        line = f"{name:<34}{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}{rps / baseline:>11.2f}x"
        if cpu:
            backend, postgres, client = (1000 * seconds / len(ordered) for seconds in cpu[name])
            line += f"{backend:>25.2f}{postgres:>10.2f}{client:>8.2f}"
        print(line)


@contextmanager
def seeded_environment(
    args: argparse.Namespace, *, faces: bool = False
) -> Iterator[tuple[dict[str, str], str]]:
    """A throwaway database with seeded members (with `faces`, most enrolled: see
    `enrol_faces`) and a private Redis key prefix, both removed afterwards; yields the
    server environment and the admin's email."""
    prefix = f"sonta-bench-{secrets.token_hex(5)}:"
    with throwaway_database(args) as database:
        env = environment(args, database, prefix)
        try:
            email = seed(env, args.members)
            if faces:
                enrol_faces(env)
            yield env, email
        finally:
            client = redis.Redis(host=args.redis_host, port=args.redis_port)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()


SEARCHES = {
    "GET /api/auth/me": "/api/auth/me",
    "GET /api/members?q=mensah": "/api/members?q=mensah&limit=20",
    # A rare term: one member of the seeded names matches all three words.
    "GET /api/members?q=kofi osei 12": "/api/members?q=kofi%20osei%2012&limit=20",
    "GET /api/members (first 100)": "/api/members",
}


def scale_main(args: argparse.Namespace) -> int:
    """The same searches against a small and a large database, interleaved round by round."""
    sizes = (args.members, args.compare_members)
    with (
        seeded_environment(args, faces=True) as (small_env, email),
        seeded_environment(
            argparse.Namespace(**{**vars(args), "members": sizes[1]}), faces=True
        ) as (large_env, _email),
        backend_server({**small_env, "BACKEND_WORKERS": str(args.workers)}) as (small, _p1),
        backend_server({**large_env, "BACKEND_WORKERS": str(args.workers)}) as (large, _p2),
    ):
        auth = {}
        for url in (small, large):
            login = {"email": email, "password": PASSWORD}
            token = httpx.post(f"{url}/api/auth/login", json=login).json()["access_token"]
            auth[url] = {"Authorization": f"Bearer {token}"}
        for url in (small, large):
            measure(url, "/health/live", {}, 1.0, args.concurrency)  # warm-up
        rates: dict[tuple[str, str], list[float]] = {}
        for round_number in range(args.rounds):
            # Each size goes first in every other round, so neither gains from its turn.
            order = (small, large) if round_number % 2 == 0 else (large, small)
            for name, path in SEARCHES.items():
                for url in order:
                    done = measure(url, path, auth[url], args.seconds, args.concurrency)
                    rates.setdefault((name, url), []).append(len(done) / args.seconds)
    print(
        f"{sizes[0]} and {sizes[1]} members (4 in 5 with a face), "
        f"{args.concurrency} client threads, "
        f"{args.workers} backend worker(s), {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s per endpoint and size"
    )
    # /api/auth/me reads no member: its own ratio is what the two servers differ by on
    # this machine, whatever the database size; the last column divides it out.
    me_ratio = _ratio(rates, "GET /api/auth/me", small, large)
    print(
        f"{'endpoint':<34}{f'req/s @{sizes[0]}':>14}{f'req/s @{sizes[1]}':>15}{'ratio':>8}"
        f"{'ratio / auth-me ratio':>23}"
    )
    for name in SEARCHES:
        low, high = (statistics.median(rates[(name, url)]) for url in (small, large))
        ratio = high / low
        print(f"{name:<34}{low:>14.0f}{high:>15.0f}{ratio:>7.2f}x{ratio / me_ratio:>22.2f}x")
    me = statistics.median(rates[("GET /api/auth/me", large)])
    rare = statistics.median(rates[("GET /api/members?q=kofi osei 12", large)])
    print(f"\nAt {sizes[1]} members the rare-term search runs at {rare / me:.2f}x /api/auth/me.")
    return 0


def _ratio(rates: dict[tuple[str, str], list[float]], name: str, small: str, large: str) -> float:
    return statistics.median(rates[(name, large)]) / statistics.median(rates[(name, small)])


def main() -> int:
    args = _parse()
    if args.compare_members:
        return scale_main(args)
    with (
        seeded_environment(args, faces=True) as (env, email),
        backend_server({**env, "BACKEND_WORKERS": str(args.workers)}) as (url, pid),
    ):
        token = httpx.post(
            f"{url}/api/auth/login", json={"email": email, "password": PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        endpoints = {
            "trivial": ("/health/live", {}),
            "GET /api/auth/me": ("/api/auth/me", auth),
            "GET /api/members?q=mensah": ("/api/members?q=mensah&limit=20", auth),
            "GET /api/members?q=kofi osei 12": ("/api/members?q=kofi%20osei%2012&limit=20", auth),
            "GET /api/members (first 100)": ("/api/members", auth),
        }
        measure(url, "/health/live", {}, 1.0, args.concurrency)  # warm-up
        results: dict[str, list[float]] = {name: [] for name in endpoints}
        elapsed = dict.fromkeys(endpoints, 0.0)
        cpu = {name: [0.0, 0.0, 0.0] for name in endpoints}
        meter = CpuMeter(pid)
        for _ in range(args.rounds):
            for name, (path, headers) in endpoints.items():
                before = meter.read()
                results[name] += measure(url, path, headers, args.seconds, args.concurrency)
                after = meter.read()
                elapsed[name] += args.seconds
                for index in range(3):
                    cpu[name][index] += after[index] - before[index]
    print(
        f"{args.members} members (4 in 5 with a face), "
        f"{args.concurrency} client threads, {args.workers} backend worker(s), "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per endpoint"
    )
    report(results, elapsed, cpu)
    budget(results, elapsed, cpu, floor="GET /api/auth/me", workers=args.workers)
    return 0


def budget(
    results: dict[str, list[float]],
    elapsed: dict[str, float],
    cpu: dict[str, list[float]],
    floor: str,
    workers: int,
) -> None:
    """What a request may cost at half the trivial rate, beside what each one cost, and
    each rate beside `floor`'s (the cheapest signed-in read: token, live check, one row)."""
    half = len(results["trivial"]) / elapsed["trivial"] / 2
    cores = os.cpu_count() or 1
    backend = 1000 * min(workers, cores) / half  # one process uses at most one core
    print(
        f"\nAt 0.5x trivial ({half:.0f} req/s) a request may cost {1000 * cores / half:.2f} ms "
        f"of CPU on this machine's {cores} core(s), at most {backend:.2f} ms of it in the "
        f"backend's {workers} process(es)."
    )
    floor_rate = len(results[floor]) / elapsed[floor]
    print(f"{'endpoint':<34}{'CPU ms/request':>15}{'vs ' + floor:>24}")
    for name, latencies in results.items():
        total = 1000 * sum(cpu[name]) / len(latencies)
        rate = len(latencies) / elapsed[name]
        print(f"{name:<34}{total:>15.2f}{rate / floor_rate:>23.2f}x")


if __name__ == "__main__":
    sys.exit(main())
