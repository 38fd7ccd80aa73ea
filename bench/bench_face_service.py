"""Face-service benchmark: /embed over HTTP beside the bare engine call, and memory.

On one real photo (tests/data/faces/obama.jpg) with the offline ``vectron`` pack and
the same onnxruntime thread settings on both sides:

  (a) http   POST /embed to a real `sonta face-service` process on 127.0.0.1 (the
             multipart upload, decoding, inference, JSON of the 512 numbers, parsing)
  (b) bare   decode_image + FaceEngine.embed_single in this process: the limit for (a)

Latency: p50/p99 of sequential requests, (a) and (b) interleaved in rounds so the
machine's noise hits them alike; ratio (a)/(b) = the HTTP overhead. Throughput: requests
per second with ``--concurrency`` HTTP clients for ``--seconds``, beside the bare call
in as many threads as the face-service has inference workers (``--workers``), so both
run the same number of inferences at once. The defaults mirror the container:
OMP_NUM_THREADS=2 and one worker.

Memory: the real supervisord.conf started in a network namespace of its own (so its
ports stay off every interface of this machine; needs root and `ip`), then the
resident (RSS) and proportional (PSS, shared pages split) memory of supervisord and
every process under it once the backend listens. ``--no-memory`` skips it.

    .venv/bin/python bench/bench_face_service.py [--rounds 20] [--per-round 10]
        [--concurrency 4] [--seconds 5] [--threads 2] [--workers 1] [--no-memory]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import decode_image
from kiosk.inference.packs import resolve_pack
from kiosk.inference.quality import Purpose
from kiosk.inference.sessions import ThreadSettings

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests/data/faces/obama.jpg"
BIN = Path(sys.executable).parent
SERVICE_READY_S = 120


def service_env(threads: int, workers: int, home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return {
        **keep,
        "PATH": f"{BIN}{os.pathsep}{keep.get('PATH', '')}",
        "HOME": str(home),
        "SONTA_DATA_DIR": str(home / "data"),
        "FACE_MODEL": "vectron",
        "FACE_MODEL_CACHE": str(home / "cache"),
        "OMP_NUM_THREADS": str(threads),
        "FACE_SERVICE_WORKERS": str(workers),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_face_service(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "sonta"), "face-service", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVICE_READY_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the face-service did not become ready")


def latencies(
    http_call: Callable[[], object], bare_call: Callable[[], object], rounds: int, per: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of each, in interleaved rounds of ``per`` calls."""
    http_times: list[float] = []
    bare_times: list[float] = []
    for _ in range(rounds):
        for call, times in ((http_call, http_times), (bare_call, bare_times)):
            for _ in range(per):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
    return http_times, bare_times


def throughput(call: Callable[[], object], concurrency: int, seconds: float) -> float:
    """Completed calls per second with ``concurrency`` threads calling in a loop."""
    done = [0] * concurrency
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        while time.monotonic() < stop:
            call()
            done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "Rss":
            rss = int(value.split()[0])
        elif name == "Pss":
            pss = int(value.split()[0])
    return rss, pss


def descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = [int(c) for c in children]
    for child in list(found):
        found += descendants(child)
    return found


def label(pid: int) -> str:
    words = [
        w.decode(errors="replace")
        for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if w
    ]
    text = " ".join(words)
    if Path(words[0]).name == "sed":
        return "sed [face-service]" if "face-service" in text else "sed [backend]"
    names = {"supervisord": "supervisord", "face-service": "face-service", "server": "backend"}
    return next((name for marker, name in names.items() if marker in text), text[:40])


def combined_memory(env: dict[str, str], log: Path) -> list[tuple[str, int, int]]:
    """Start supervisord.conf in a fresh network namespace; memory once both are up."""
    namespace = f"sonta-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", namespace, str(BIN / "supervisord"), "-c",
                 str(ROOT / "supervisord.conf")],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + SERVICE_READY_S
        while "Uvicorn running on http://0.0.0.0:" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the combined server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        time.sleep(2)  # let start-up allocations settle
        pids = [process.pid, *descendants(process.pid)]
        rows = [(label(pid), *memory_kib(pid)) for pid in pids]
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        return rows
    finally:
        pids = subprocess.run(
            ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def report_latency(args: argparse.Namespace, url: str, engine: FaceEngine, data: bytes) -> None:
    client = httpx.Client(base_url=url, timeout=60, trust_env=False)

    def http_embed() -> None:
        response = client.post("/embed", files={"image": ("photo.jpg", data)})
        response.raise_for_status()
        response.json()

    def bare_embed() -> None:
        decoded = decode_image(data)
        engine.embed_single(decoded.pixels, purpose=Purpose.ENROLMENT, scale=decoded.scale)

    http_embed(), bare_embed()  # warm both paths
    http_t, bare_t = latencies(http_embed, bare_embed, args.rounds, args.per_round)
    print(f"/embed latency on {PHOTO.name}, {len(http_t)} calls each, ms:")
    print(f"  {'':6} {'p50':>7} {'p99':>7}")
    for name, times in (("http", http_t), ("bare", bare_t)):
        print(f"  {name:6} {percentile(times, 50) * 1e3:7.1f} {percentile(times, 99) * 1e3:7.1f}")
    ratio = percentile(http_t, 50) / percentile(bare_t, 50)
    print(f"  http/bare at p50: {ratio:.2f} (HTTP overhead)")
    http_rps = throughput(http_embed, args.concurrency, args.seconds)
    bare_rps = throughput(bare_embed, args.workers, args.seconds)
    print(
        f"throughput for {args.seconds:.0f} s: http {http_rps:.1f}/s ({args.concurrency} "
        f"clients, {args.workers} worker), bare {bare_rps:.1f}/s ({args.workers} thread), "
        f"ratio {http_rps / bare_rps:.2f}"
    )
    client.close()


def report_memory(env: dict[str, str], home: Path) -> None:
    rows = combined_memory(env, home / "combined.log")
    print("combined server after start-up (supervisord.conf, vectron pack), MiB:")
    print(f"  {'process':20} {'RSS':>7} {'PSS':>7}")
    for name, rss, pss in rows:
        print(f"  {name:20} {rss / 1024:7.1f} {pss / 1024:7.1f}")
    total_rss = sum(r[1] for r in rows) / 1024
    total_pss = sum(r[2] for r in rows) / 1024
    print(f"  {'total':20} {total_rss:7.1f} {total_pss:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for both")
    parser.add_argument("--workers", type=int, default=1, help="FACE_SERVICE_WORKERS")
    parser.add_argument("--no-memory", action="store_true", help="skip the combined server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-face-service-") as tmp:
        home = Path(tmp)
        env = service_env(args.threads, args.workers, home)
        pack = resolve_pack("vectron", cache_dir=home / "cache")
        engine = FaceEngine.load(pack, ThreadSettings(intra_op_threads=args.threads))
        process, url = start_face_service(env)
        try:
            report_latency(args, url, engine, PHOTO.read_bytes())
        finally:
            process.terminate()
            process.wait(timeout=15)
        if not args.no_memory:
            report_memory(env, home)


if __name__ == "__main__":
    main()
