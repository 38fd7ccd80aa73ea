"""Gallery sync on the wire and in the backend's memory, for a 5,000-member gallery.

Seeds a throwaway PostgreSQL database with enrolled members (one template each), starts
one uvicorn backend process, pairs a kiosk, and measures:

- a full snapshot: bytes on the wire (gzip), bytes decoded, seconds per pull, and the
  same templates in the other encodings side by side (the former JSON float lists,
  base64 float32, float16), so the ratios come from one run on the same data;
- the backend's peak resident memory over `--pulls` snapshot pulls (VmHWM, reset
  before them) and what stays resident after, beside its warm baseline;
- a 10-change delta (five templates added, five members' faces erased) with the
  digests of the previous answer: bytes on the wire;
- on the kiosk side, the snapshot decoded and applied to a `LocalStore` (templates
  sealed, one transaction), and the first and a cached `gallery_for(meeting)`.

Targets (issue 15): snapshot <= 4 MB on the wire, <= +40 MiB backend peak; delta <= 20 KB.

    .venv/bin/python bench/bench_gallery_sync.py [--members 5000] [--pulls 4]
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import gzip
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from bench_backend import ROOT, add_service_arguments, free_port, seeded_environment
from bench_checkin_upload import pair_kiosk

from kiosk.protocol.wire import decode
from kiosk.storage.local_gallery import MeetingRecord
from kiosk.storage.local_store import LocalStore
from kiosk.syncing.client import parse_gallery
from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.templates import TemplateCipher
from server.backend.face_model import ServerFaceModel
from tests.utils.gallery_seed import add_template, seed_enrolled, unit_vectors

MIB = 1 << 20


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--pulls", type=int, default=4)
    add_service_arguments(parser)
    args = parser.parse_args()
    args.enrolled, args.members = args.members, 0  # bench_backend seeds plain members
    return args


@contextmanager
def backend(env: dict[str, str], root: Path = ROOT) -> Iterator[tuple[str, int]]:
    """One uvicorn backend process running the code under `root`; yields its URL and pid."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.backend.main:app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts Python slowly
        while True:
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the backend did not start; see its log above")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in bytes."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return fields


def pull(url: str, kiosk: dict[str, str], **params: Any) -> tuple[int, bytes, float]:
    """Wire bytes, decoded body and seconds of one gallery request."""
    started = time.perf_counter()
    headers = {**kiosk, "Accept-Encoding": "gzip"}
    with httpx.stream(
        "GET", f"{url}/api/kiosk/gallery", params=params, headers=headers, timeout=120
    ) as response:
        response.raise_for_status()
        raw = b"".join(response.iter_raw())
    body = gzip.decompress(raw) if response.headers.get("content-encoding") == "gzip" else raw
    return len(raw), body, time.perf_counter() - started


def other_encodings(answer: dict[str, Any]) -> dict[str, int]:
    """Gzipped size of the same snapshot with the embeddings encoded other ways."""
    vectors = [decode(t["embedding"], "q8") for t in answer["templates"]]
    encoders = {
        "JSON float lists (before), gzip": lambda v: [round(float(x), 7) for x in v],
        "base64 float32, gzip": lambda v: base64.b64encode(v.astype("<f4").tobytes()).decode(),
        "base64 float16, gzip": lambda v: base64.b64encode(v.astype("<f2").tobytes()).decode(),
    }
    sizes: dict[str, int] = {}
    for name, encode in encoders.items():
        templates = [
            {**t, "embedding": encode(v)} for t, v in zip(answer["templates"], vectors, strict=True)
        ]
        text = json.dumps({**answer, "templates": templates}, separators=(",", ":")).encode()
        sizes[name] = len(gzip.compress(text, 6))
        if name.startswith("JSON"):
            sizes["JSON float lists (before), not compressed"] = len(text)
    return sizes


def seed(env: dict[str, str], members: int) -> tuple[TemplateCipher, str, list[uuid.UUID]]:
    settings = load_settings(env)
    cipher = TemplateCipher(settings.embedding_encryption_key)
    model_id = ServerFaceModel(settings.face_model).model_id
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            ids = seed_enrolled(session, cipher, members=members, model_id=model_id)
    finally:
        engine.dispose()
    return cipher, model_id, ids


def open_meeting(url: str, email: str, listed: list[uuid.UUID] | None = None) -> None:
    """An active meeting opened to everyone (or listing `listed` by id): every kiosk's
    gallery holds those members."""
    from bench_backend import PASSWORD  # noqa: PLC0415

    login = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    begins = datetime.now(UTC) - timedelta(minutes=5)
    body: dict[str, Any] = {
        "title": "Everyone",
        "starts_at": begins.isoformat(),
        "ends_at": (begins + timedelta(hours=2)).isoformat(),
    }
    if listed:
        body["expected_member_ids"] = [str(member) for member in listed]
    else:
        body["open_to_everyone"] = True
    made = httpx.post(f"{url}/api/meetings", json=body, headers=admin)
    made.raise_for_status()
    started = httpx.post(f"{url}/api/meetings/{made.json()['id']}/start", headers=admin)
    started.raise_for_status()


def ten_changes(env: dict[str, str], url: str, email: str, ids: list[uuid.UUID]) -> None:
    """Five templates added (database, as enrolment writes them), five faces erased (API)."""
    settings = load_settings(env)
    cipher = TemplateCipher(settings.embedding_encryption_key)
    model_id = ServerFaceModel(settings.face_model).model_id
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            for member, vector in zip(ids[:5], unit_vectors(5, seed=77), strict=True):
                add_template(session, cipher, member, vector, model_id)
            session.commit()
    finally:
        engine.dispose()
    from bench_backend import PASSWORD  # noqa: PLC0415

    login = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for member in ids[5:10]:
        httpx.delete(f"{url}/api/members/{member}/templates", headers=admin).raise_for_status()


def main() -> int:
    args = _parse()
    with seeded_environment(args) as (env, email):
        _, _, ids = seed(env, args.enrolled)
        with backend(env) as (url, pid):
            kiosk = pair_kiosk(url, email)
            open_meeting(url, email)
            pull(url, kiosk, since=10**9)  # warm-up: code paths loaded, a snapshot-free answer
            before = memory(pid)
            with open(f"/proc/{pid}/clear_refs", "w") as refs:
                refs.write("5")  # reset VmHWM to the current RSS
            timings, wire, body = [], 0, b""
            for _ in range(args.pulls):
                wire, body, seconds = pull(url, kiosk)
                timings.append(seconds)
            after = memory(pid)
            answer = json.loads(body)
            ten_changes(env, url, email, ids)
            again = {
                "since": answer["version"],
                "scope": answer["scope"],
                "members": answer["members_digest"],
                "meetings": answer["meetings_digest"],
            }
            delta_wire, delta_body, _ = pull(url, kiosk, **again)
    delta = json.loads(delta_body)
    report(args, answer, wire, len(body), timings, before, after)
    kiosk_side(answer)
    print(
        f"10-change delta: {delta_wire:,} bytes on the wire ({len(delta['templates'])} added, "
        f"{len(delta['deleted_template_ids'])} deleted, members resent: "
        f"{delta['members'] is not None})  target <= 20,000"
    )
    return 0


def kiosk_side(answer: dict[str, Any]) -> None:
    """Decode and apply the snapshot on a kiosk, then build a meeting's gallery."""
    started = time.perf_counter()
    update = parse_gallery(answer)
    decoded = time.perf_counter() - started
    now = datetime.now(UTC)
    meeting = MeetingRecord(
        "bench", "Bench", "active", now, now + timedelta(hours=2), None, (), expects_everyone=True
    )
    update = dataclasses.replace(update, meetings=[meeting])
    key = secrets.token_bytes(32)
    with tempfile.TemporaryDirectory() as folder:
        store = LocalStore(Path(folder) / "kiosk.db", template_key=lambda: key)
        started = time.perf_counter()
        store.apply_gallery(update)
        applied = time.perf_counter() - started
        started = time.perf_counter()
        size = len(store.gallery_for("bench"))
        first = time.perf_counter() - started
        started = time.perf_counter()
        store.gallery_for("bench")
        cached = time.perf_counter() - started
        store.close()
    print(
        f"kiosk: decode {decoded:.2f} s, apply (sealed, one transaction) {applied:.2f} s; "
        f"gallery_for a meeting of {size}: {first * 1000:.0f} ms first, "
        f"{cached * 1000:.0f} ms cached"
    )


def report(
    args: argparse.Namespace,
    answer: dict[str, Any],
    wire: int,
    decoded: int,
    timings: list[float],
    before: dict[str, int],
    after: dict[str, int],
) -> None:
    count = len(answer["templates"])
    print(
        f"{args.enrolled} enrolled members, {count} templates in the snapshot, one uvicorn worker"
    )
    print(
        f"snapshot (q8, gzip): {wire:,} bytes on the wire ({wire / count:.0f} per template), "
        f"{decoded:,} decoded; {np.median(timings):.2f} s per pull (median of {len(timings)})"
        "  target <= 4,000,000"
    )
    for name, size in other_encodings(answer).items():
        print(f"  same snapshot as {name}: {size:,} bytes ({size / wire:.2f}x q8 gzip)")
    peak = (after["VmHWM"] - before["VmRSS"]) / MIB
    kept = (after["VmRSS"] - before["VmRSS"]) / MIB
    print(
        f"backend memory: {before['VmRSS'] / MIB:.0f} MiB warm; peak +{peak:.1f} MiB over "
        f"{len(timings)} pulls, +{kept:.1f} MiB still resident after  target peak <= +40 MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
