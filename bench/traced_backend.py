"""The backend under `tracemalloc`, for the soak only: SIGUSR2 starts tracing, then
writes snapshots.

The soak starts each backend through this wrapper when asked for allocation sites
(`soak_backend.py --trace`); the server itself never traces and exposes nothing. The
first SIGUSR2 starts tracing (tracing the imports and start-up made them take minutes on
a loaded machine, and growth under load is what is sought); each later one dumps the
traced allocations to `<SOAK_SNAPSHOT_DIR>/<pid>-<n>.snap`, numbered from 0; the soak
compares the first, at the end of warm-up, with the last.

    python bench/traced_backend.py --port 8000
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import threading
import tracemalloc
from pathlib import Path

import uvicorn

FRAMES = 8


def _serve_signals(folder: Path) -> None:
    """Wait for SIGUSR2 on a thread of its own: the event loop's C code left Python-level
    signal handlers waiting. The first one starts tracing, each later one dumps."""
    numbers = itertools.count()
    while True:
        signal.sigwait({signal.SIGUSR2})
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
            continue
        path = folder / f"{os.getpid()}-{next(numbers)}.snap"
        tracemalloc.take_snapshot().dump(str(path.with_suffix(".part")))
        path.with_suffix(".part").rename(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    folder = Path(os.environ["SOAK_SNAPSHOT_DIR"])
    # Blocked here, so in every thread started later too: only sigwait receives it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    threading.Thread(target=_serve_signals, args=(folder,), daemon=True).start()
    uvicorn.run(
        "server.backend.main:app_from_env",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        log_level=os.environ.get("SOAK_LOG_LEVEL", "warning"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
