"""onnxruntime sessions with their threading set explicitly.

On a 2-core machine, two sessions whose idle worker threads keep spinning fight for
the cores: measured there, an embedding slowed from ~31 ms to ~55 ms with spinning on.
So spinning is off by default (the kiosk also needs a core left for the UI), and the
intra-op thread count comes from the caller, normally ``OMP_NUM_THREADS``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort


@dataclass(frozen=True)
class ThreadSettings:
    """How many cores one inference may use and whether idle threads spin."""

    intra_op_threads: int = 0  # 0: onnxruntime's default (one per physical core)
    spinning: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ThreadSettings:
        env = os.environ if environ is None else environ
        raw = env.get("OMP_NUM_THREADS", "").strip()
        threads = int(raw) if raw.isdigit() else 0
        return cls(intra_op_threads=threads)


def create_session(model_path: Path, threads: ThreadSettings) -> ort.InferenceSession:
    """A CPU session for ``model_path`` with the given thread settings."""
    return ort.InferenceSession(
        str(model_path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
    )


def session_options(threads: ThreadSettings) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads.intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    spin = "1" if threads.spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    options.log_severity_level = 3  # warnings from graph optimisation are not actionable here
    return options
