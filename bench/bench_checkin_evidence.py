"""What the server's own embedding of each kiosk face crop adds to a check-in upload.

A face check-in is approved only on the server's similarity: the backend sends the
batch's aligned crops to the face-service, which embeds them in one model run per 64.
Side by side in one run, against a real face-service and backend on PostgreSQL:

    trivial          GET /health/live
    no crop          batches without crops (never approved: a person reviews them)
    crops, batched   the same batches, each item with its 112x112 JPEG crop
    crops, singly    one check-in per request (the worst case: no batching)

Prints check-ins/s, the ratios, and the added server time per check-in. Throwaway
database and Redis prefix; members get templates near the crop's face, sealed as the
server seals them, so every crop is scored as a real check-in is:

    .venv/bin/python bench/bench_checkin_evidence.py [--seconds 4] [--batch 50]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from bench_backend import add_service_arguments, backend_process, measure, seeded_environment
from bench_checkin_upload import Batch, pair_kiosk, report, seed_meetings, upload_phase
from bench_face_service import service_env, start_face_service
from numpy.typing import NDArray
from sqlalchemy import select

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import read_image_file
from kiosk.inference.packs import resolve_pack
from kiosk.inference.quality import Purpose
from kiosk.inference.sessions import ThreadSettings
from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import templates as templates_crud
from server.backend.models import FaceTemplate, Member

PHOTO = Path(__file__).resolve().parents[1] / "tests/data/faces/obama2.jpg"
# How close each seeded template is to the crop's face: an ordinary accept.
SEEDED_SIMILARITY = 0.75


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per phase per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="kiosks uploading at once")
    parser.add_argument("--batch", type=int, default=50, help="check-ins per request")
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--meetings", type=int, default=20)
    add_service_arguments(parser)
    return parser.parse_args()


def kiosk_crop() -> tuple[str, NDArray[np.float32], str]:
    """The aligned crop a kiosk sends (base64 JPEG), its embedding, and the model id."""
    engine = FaceEngine.load(resolve_pack("vectron"), ThreadSettings(intra_op_threads=1))
    pixels = read_image_file(PHOTO).pixels
    face = engine.embed_single(pixels, purpose=Purpose.CHECKIN)
    if face.embedding is None:
        raise SystemExit("the bench photo has no usable face")
    crop = engine.recognizer.align(pixels, face.face)
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise SystemExit("the crop could not be encoded")
    return base64.b64encode(jpeg.tobytes()).decode(), face.embedding.vector, engine.model_id


def seed_templates(env: dict[str, str], face: NDArray[np.float32], model_id: str) -> None:
    """One template per member at SEEDED_SIMILARITY to `face`, sealed as the server does."""
    settings = load_settings(env)
    key = settings.embedding_encryption_key
    if key is None:
        raise SystemExit("the bench environment has no EMBEDDING_ENCRYPTION_KEY")
    cipher = TemplateCipher(key)
    rng = np.random.default_rng(3)
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            for member_id in session.scalars(select(Member.id)):
                noise = rng.normal(size=face.size)
                noise -= face * float(noise @ face)
                noise /= np.linalg.norm(noise)
                vector = SEEDED_SIMILARITY * face + np.sqrt(1 - SEEDED_SIMILARITY**2) * noise
                columns = templates_crud.sealed_columns(
                    cipher, vector.astype(np.float32), member_id=member_id, model_id=model_id
                )
                session.add(FaceTemplate(**columns))
            session.commit()
    finally:
        engine.dispose()


def batches(
    meetings: list[str], members: list[str], model_id: str, crop: str | None
) -> Callable[[int], Batch]:
    """Batches of new check-ins of a given size, with or without the crop."""
    pairs = itertools.product(meetings, members)
    lock = threading.Lock()

    def make(size: int) -> Batch:
        with lock:
            chunk = list(itertools.islice(pairs, size))
        if len(chunk) < size:
            raise RuntimeError("out of (meeting, member) pairs: raise --members or --meetings")
        now = datetime.now(UTC).isoformat()
        extra = {"face": crop} if crop is not None else {}
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
                **extra,
            }
            for meeting, member in chunk
        ]
        return {"items": items, "sent_at": now}

    return make


def run(args: argparse.Namespace, env: dict[str, str], email: str, service_url: str) -> None:
    crop, face, model_id = kiosk_crop()
    seed_templates(env, face, model_id)
    meetings, members = seed_meetings(env, args.meetings)
    half = len(meetings) // 2
    plain = batches(meetings[:half], members, model_id, None)
    with_crop = batches(meetings[half:], members, model_id, crop)
    phases: dict[str, tuple[Callable[[], Batch], int]] = {
        "no crop (review)": (lambda: plain(args.batch), args.batch),
        "crops, batched": (lambda: with_crop(args.batch), args.batch),
        "crops, one per request": (lambda: with_crop(1), 1),
    }
    env = {**env, "FACE_SERVICE_URL": service_url, "FACE_MODEL": "vectron"}
    with backend_process(env) as url:
        kiosk = pair_kiosk(url, email)
        measure(url, "/health/live", {}, 1.0, args.concurrency)  # warm-up
        with_crop(1)  # a first model run outside the timings
        results: dict[str, list[float]] = {"trivial": []}
        results |= {name: [] for name in phases}
        elapsed = dict.fromkeys(results, 0.0)
        for _ in range(args.rounds):
            results["trivial"] += measure(url, "/health/live", {}, args.seconds, args.concurrency)
            elapsed["trivial"] += args.seconds
            for name, (make, _size) in phases.items():
                # Wall time, not the phase's nominal length: the last batches overrun it.
                started = time.perf_counter()
                latencies, _sent = upload_phase(url, kiosk, make, args.seconds, args.concurrency)
                elapsed[name] += time.perf_counter() - started
                results[name] += latencies
    print(
        f"{args.members} members with templates, {args.concurrency} kiosks uploading at once, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per phase; load: "
        f"{os.getloadavg()[0]:.2f} (1-minute average at the end)"
    )
    report({k: v for k, v in results.items() if k != "crops, one per request"}, elapsed, args.batch)
    rates = {
        name: len(results[name]) * size / elapsed[name] for name, (_make, size) in phases.items()
    }
    base = rates["no crop (review)"]
    singly = rates["crops, one per request"]
    print(f"{'crops, one per request':<30}{singly:>21.0f} check-ins/s")
    for name in ("crops, batched", "crops, one per request"):
        added = 1000 / rates[name] - 1000 / base
        print(
            f"{name}: {rates[name] / base:.3f}x the check-ins/s of no crop; "
            f"adds {added:.2f} ms of server time per check-in"
        )


def main() -> int:
    args = _parse()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        process, service_url = start_face_service(service_env(1, 1, Path(tmp)))
        try:
            with seeded_environment(args) as (env, email):
                run(args, env, email, service_url)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
