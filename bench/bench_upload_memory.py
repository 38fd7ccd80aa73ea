"""Backend memory under the tiny-image attack (issue 13, defect 1), in a real process.

A few KB of 1-bit PNG declaring 6300x6300 pixels used to be decoded (and copied)
before the ticket was checked: ~430 MiB of the backend's memory per upload, +1.6 GiB
for four at once. This starts one backend process on a throwaway PostgreSQL database
and Redis prefix and posts four uploads at once to `POST /api/checkin/phone` in each
phase, reading the process's peak resident memory (VmHWM) before and after:

  ordinary  four 1280 px JPEG selfies (what the phone page sends), made-up ticket
  attack    four tiny PNGs declaring 6300x6300, made-up ticket
  ticketed  the same PNGs with a real ticket (refused from the header)
  camera    four 12 MP JPEGs with a real ticket (header passes; no face-service here)

Prints the growth of each phase in MiB beside the ordinary one. Under a minute:

    .venv/bin/python bench/bench_upload_memory.py
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from bench_backend import PASSWORD, ROOT, add_service_arguments, free_port, seeded_environment
from PIL import Image


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    add_service_arguments(parser)
    return parser.parse_args()


@contextmanager
def backend(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """One backend process; yields its URL and process id."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.backend.main:app_from_env"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, **env, "FACE_SERVICE_URL": "http://127.0.0.1:9"}
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
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


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **({"optimize": True} if kind == "PNG" else {"quality": 85}))
    return out.getvalue()


def ticket_and_member(url: str, email: str) -> tuple[str, str]:
    with httpx.Client(base_url=url, timeout=30) as client:
        login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        member = client.get("/api/members", params={"limit": 1}, headers=auth).json()
        start = datetime.now(UTC) - timedelta(minutes=5)
        meeting = client.post(
            "/api/meetings",
            json={
                "title": "Memory bench",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
                "open_to_everyone": True,
            },
            headers=auth,
        ).json()
        client.post(f"/api/meetings/{meeting['id']}/start", headers=auth)
        token = client.get(f"/api/meetings/{meeting['id']}/qr", headers=auth).json()["token"]
        ticket = client.post("/api/qr/scan", json={"token": token}).json()["ticket"]
        return ticket, member["data"][0]["id"]


def post_four(url: str, ticket: str, member_id: str, data: bytes) -> list[int]:
    def post(_: int) -> int:
        return httpx.post(
            f"{url}/api/checkin/phone",
            data={"ticket": ticket, "member_id": member_id},
            files={"selfie": ("selfie", data, "application/octet-stream")},
            timeout=120,
        ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(post, range(4)))


def main() -> int:
    args = _parse()
    rng = np.random.default_rng(3)
    selfie = encoded(Image.fromarray(rng.integers(0, 255, (960, 1280, 3), np.uint8)), "JPEG")
    # A smooth 12 MP frame: a camera photo's size in pixels, under the 2 MiB body limit.
    ramp = np.linspace(0, 255, 4032, dtype=np.uint8)
    camera = encoded(Image.fromarray(np.dstack([np.tile(ramp, (3024, 1))] * 3)), "JPEG")
    bomb = encoded(Image.new("1", (6300, 6300)), "PNG")
    with seeded_environment(args) as (env, email), backend(env) as (url, pid):
        ticket, member = ticket_and_member(url, email)
        phases = [
            ("ordinary", "made-up-ticket", selfie),
            ("attack", "made-up-ticket", bomb),
            ("ticketed", ticket, bomb),
            ("camera", ticket, camera),
        ]
        print(f"backend peak RSS at start: {peak_mib(pid):.0f} MiB; PNG bomb {len(bomb)} B")
        growth = {}
        for name, used, data in phases:
            before = peak_mib(pid)
            codes = post_four(url, used, member, data)
            growth[name] = peak_mib(pid) - before
            print(f"{name:>9}: peak RSS +{growth[name]:6.1f} MiB  answers {codes}")
        worst = max(growth.values())
        print(f"worst phase +{worst:.1f} MiB; ordinary selfies +{growth['ordinary']:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
