"""The README's run command: bootstraps, then dispatches to `sonta`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_script_runs_sonta_commands_after_bootstrapping() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACE_MODEL")}
    env["FACE_MODEL"] = "vectron"
    result = subprocess.run(
        [str(ROOT / "run.sh"), "face", "models", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    packs = {p["name"]: p for p in json.loads(result.stdout)["packs"]}
    assert packs["vectron"]["selected"] and packs["vectron"]["present"]
    assert "syncing .venv" in result.stderr  # the bootstrap ran first
