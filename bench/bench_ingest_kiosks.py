"""Check-in ingest with 1, 6 and 30 concurrent kiosks, beside the trivial endpoint.

Each kiosk has its own credential and uploads batches back to back from its own thread,
as real kiosks do after an outage. Every member has a sealed face template and every
check-in carries a probe at similarity 0.7 to it, so the server re-scores each one as
it does for real kiosks (`--no-probes`: items without, as kiosks from before probes).
Phases are interleaved with GET /health/live in each round. After the run every batch
is sent again, and the database must then hold exactly one record per check-in sent:
0 lost, 0 duplicated. Throwaway database and Redis prefix:

    .venv/bin/python bench/bench_ingest_kiosks.py [--seconds 4] [--kiosks 1,6,30]
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import numpy as np
from bench_backend import (
    PASSWORD,
    add_service_arguments,
    backend_process,
    measure,
    seeded_environment,
)
from bench_checkin_upload import (
    Batch,
    batch_maker,
    count_records,
    cycler,
    report,
    seed_meetings,
    upload_phase,
)

from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import templates as templates_crud
from server.backend.face_model import ServerFaceModel
from server.backend.models import FaceTemplate


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per phase per round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--kiosks", default="1,6,30", help="kiosk counts to measure")
    parser.add_argument("--batch", type=int, default=50, help="check-ins per request")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=60)
    parser.add_argument("--no-probes", dest="probes", action="store_false")
    add_service_arguments(parser)
    return parser.parse_args()


def seed_templates(env: dict[str, str], members: list[str], model_id: str) -> dict[str, str]:
    """One sealed random face per member; returns a probe at similarity 0.7 to each."""
    settings = load_settings(env)
    assert settings.embedding_encryption_key is not None
    cipher = TemplateCipher(settings.embedding_encryption_key)
    rng = np.random.default_rng(7)
    probes: dict[str, str] = {}
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            for member in members:
                face = rng.normal(size=512).astype(np.float32)
                face /= np.linalg.norm(face)
                other = rng.normal(size=512).astype(np.float32)
                other -= face * float(other @ face)
                other /= np.linalg.norm(other)
                probe = 0.7 * face + np.sqrt(1 - 0.49) * other
                probes[member] = base64.b64encode(probe.astype("<f4").tobytes()).decode()
                columns = templates_crud.sealed_columns(
                    cipher, face, member_id=uuid.UUID(member), model_id=model_id
                )
                session.add(FaceTemplate(**columns))
            session.commit()
    finally:
        engine.dispose()
    return probes


def with_probes(make: Callable[[], Batch], probes: dict[str, str]) -> Callable[[], Batch]:
    def probed() -> Batch:
        batch = make()
        for item in batch["items"]:
            item["probe"] = probes[item["member_id"]]
        return batch

    return probed


def pair_kiosks(url: str, email: str, count: int) -> list[dict[str, str]]:
    login = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    kiosks = []
    for n in range(count):
        paired = httpx.post(f"{url}/api/kiosks", json={"name": f"Kiosk {n}"}, headers=admin)
        paired.raise_for_status()
        kiosks.append({"Authorization": f"Bearer {paired.json()['credential']}"})
    return kiosks


Sent = list[tuple[int, Batch]]


class Phase:
    """Kiosks uploading back to back; a 503 is waited out (Retry-After) and resent."""

    def __init__(self, url: str, next_batch: Callable[[], Batch], seconds: float) -> None:
        self.url, self.next_batch = url, next_batch
        self.stop = time.perf_counter() + seconds
        self.latencies: list[float] = []
        self.sent: Sent = []
        self.busy = 0
        self._lock = threading.Lock()

    def kiosk(self, number: int, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while time.perf_counter() < self.stop:
                batch = self.next_batch()
                started = time.perf_counter()
                while (answer := client.post("/api/kiosk/checkins", json=batch)).status_code == 503:
                    with self._lock:
                        self.busy += 1
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                answer.raise_for_status()
                with self._lock:
                    self.latencies.append(time.perf_counter() - started)
                    self.sent.append((number, batch))


def kiosks_phase(
    url: str, kiosks: list[dict[str, str]], next_batch: Callable[[], Batch], seconds: float
) -> Phase:
    """Every kiosk uploads from its own thread for `seconds`."""
    phase = Phase(url, next_batch, seconds)
    threads = [threading.Thread(target=phase.kiosk, args=(n, k)) for n, k in enumerate(kiosks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return phase


def main() -> int:
    args = _parse()
    counts = [int(n) for n in args.kiosks.split(",")]
    with seeded_environment(args) as (env, email):
        meetings, members = seed_meetings(env, args.meetings)
        model_id = ServerFaceModel(load_settings(env).face_model).model_id
        fresh = batch_maker(meetings, members, args.batch, model_id)
        if args.probes:
            fresh = with_probes(fresh, seed_templates(env, members, model_id))
        with backend_process(env) as url:
            kiosks = pair_kiosks(url, email, max(counts))
            measure(url, "/health/live", {}, 1.0, 4)  # warm-up
            names = ["trivial", *(f"{n} kiosk(s) uploading" for n in counts)]
            results: dict[str, list[float]] = {name: [] for name in names}
            elapsed = dict.fromkeys(names, 0.0)
            sent: Sent = []
            busy: dict[int, int] = {}
            for _ in range(args.rounds):
                results["trivial"] += measure(url, "/health/live", {}, args.seconds, 4)
                elapsed["trivial"] += args.seconds
                for n in counts:
                    phase = kiosks_phase(url, kiosks[:n], fresh, args.seconds)
                    results[f"{n} kiosk(s) uploading"] += phase.latencies
                    elapsed[f"{n} kiosk(s) uploading"] += args.seconds
                    sent += phase.sent
                    busy[n] = busy.get(n, 0) + phase.busy
            stored = count_records(env)
            for number, kiosk in enumerate(kiosks):  # each kiosk resends its own batches
                own = [batch for n, batch in sent if n == number]
                if own:
                    upload_phase(url, kiosk, cycler(own), 1.0, 2)
            again = count_records(env)
        print(
            f"{args.members} members, {args.meetings} meetings, batches of {args.batch}, "
            f"one uvicorn worker, {args.rounds} round(s) of {args.seconds:g} s per phase, "
            + ("every check-in re-scored from its probe" if args.probes else "no probes")
        )
        report(results, elapsed, args.batch)
        print("503 busy answers waited out (Retry-After), by kiosk count:", busy)
        expected = len(sent) * args.batch
        print(f"check-ins sent once: {expected}; records stored: {stored}; after resends: {again}")
        lost, duplicated = max(0, expected - stored), max(0, again - expected)
        print(f"lost: {lost}, duplicated: {duplicated}")
        return 0 if lost == duplicated == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
