"""The Dockerfile passes hadolint and keeps its promises (multi-stage, non-root, port 3000
only, a health check, the model verified at build time); supervisord.conf keeps its own;
the targeted copy for the model download stage is enough to run it."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.container.conftest import CONF, ROOT, VENV_BIN
from tests.container.dockerfile import DOCKERFILE, final, stage, stages
from tests.utils.pack_server import PackServer, pack_zip


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_is_multi_stage_and_the_runtime_runs_as_a_non_root_user() -> None:
    assert len(stages()) >= 3
    users = final().all("USER")
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert any("useradd" in run and f"--uid {user}" in run for run in final().all("RUN"))


def test_the_runtime_carries_postgresqls_client_programs_for_backups() -> None:
    runs = final().all("RUN")
    (install,) = [run for run in runs if "apt-get install" in run]
    assert '"postgresql-client-15=15.*"' in install and "--no-install-recommends" in install
    assert install.endswith("rm -rf /var/lib/apt/lists/*")
    # Installed as root, before the image switches to its unprivileged user.
    steps = final().instructions
    assert steps.index(("RUN", install)) < steps.index(("USER", final().all("USER")[-1]))


def test_only_port_3000_is_exposed() -> None:
    exposed = [args for s in stages() for args in s.all("EXPOSE")]
    assert exposed == ["3000"]


def test_healthcheck_on_health_with_a_start_period() -> None:
    (healthcheck,) = final().all("HEALTHCHECK")
    assert "--start-period=" in healthcheck
    start = int(healthcheck.split("--start-period=")[1].split("s")[0])
    # The backend waits this long for the model before serving (supervisord.conf).
    conf = CONF.read_text()
    waited = int(conf.split("face-service wait --timeout ")[1].split(";")[0])
    assert start >= waited
    assert "/health" in healthcheck


def test_model_is_fetched_and_verified_at_build_time() -> None:
    fetch = [run for run in stage("models").all("RUN") if "face fetch" in run]
    assert len(fetch) == 1 and "FACE_MODEL_CACHE=/opt/models" in fetch[0]
    assert "--from=models /opt/models /opt/models" in final().all("COPY")
    assert "FACE_MODEL_CACHE=/opt/models" in " ".join(final().all("ENV"))


def test_only_the_server_dependencies_are_installed() -> None:
    syncs = [run for s in stages() for run in s.all("RUN") if "uv sync" in run]
    assert syncs and all("--frozen" in run and "--extra server" in run for run in syncs)
    assert not [run for run in syncs if "--all-extras" in run or "dev" in run or "kiosk" in run]


def test_cmd_starts_supervisord_with_the_repository_file() -> None:
    (cmd,) = final().all("CMD")
    assert json.loads(cmd) == ["sonta", "supervise", "--conf", "/app/supervisord.conf"]
    assert "supervisord.conf ./" in final().all("COPY")


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".tools", "tests"} <= ignored


# `python -m sonta.cli` without this repository on sys.path (the editable install puts
# it there), so a module the stage does not copy is missing here as in the image.
ONLY_THE_COPY = (
    "import runpy, sys; "
    f"sys.path[:] = [p for p in sys.path if p.rstrip('/') != {str(ROOT)!r}]; "
    "sys.argv[0] = 'sonta'; runpy.run_module('sonta.cli', run_name='__main__')"
)


@pytest.mark.model
@pytest.mark.network
def test_the_model_stage_copy_is_enough_for_sonta_face_fetch(tmp_path: Path) -> None:
    """Rebuild the stage's /src from its COPY lines and run its fetch, served locally."""
    for copy in stage("models").all("COPY"):
        *sources, target = shlex.split(copy)
        for source in sources:
            if source.endswith("/"):
                shutil.copytree(ROOT / source, tmp_path / target)
            else:
                (tmp_path / target).mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, tmp_path / target)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "FACE_MODEL_CACHE": str(tmp_path / "m")}
    server = PackServer()
    try:
        url = server.serve("/vectron.zip", pack_zip())
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                ONLY_THE_COPY,
                "face",
                "fetch",
                "vectron",
                "--url",
                url,
                "--json",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(tmp_path / "m" / "vectron")
    assert sorted(p.name for p in (tmp_path / "m" / "vectron").iterdir()) == [
        "scrfd_500m_bnkps.onnx",
        "w600k_mbf.onnx",
    ]


def supervisord_conf() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(CONF)
    return parser


def test_supervisord_serves_nothing_and_restarts_every_program() -> None:
    conf = supervisord_conf()
    assert not [s for s in conf.sections() if "http_server" in s]
    programs = {s.removeprefix("program:"): conf[s] for s in conf.sections() if "program:" in s}
    assert set(programs) == {"face-service", "backend", "backup"}
    for program in programs.values():
        # Restarted on a crash; exit code 2 (a setting or a taken port) is final.
        assert (program["autorestart"], program["exitcodes"]) == ("unexpected", "2")
        assert program["stopasgroup"] == program["killasgroup"] == "true"
        assert program["stdout_logfile"] == "/dev/stdout"
    # supervisord stops the programs one after the other: together inside Docker's 10 s.
    assert sum(int(p["stopwaitsecs"]) for p in programs.values()) < 10
    assert "OMP_NUM_THREADS" in programs["face-service"]["command"]
    backend = programs["backend"]["command"]
    assert backend.index("sonta migrate") < backend.index("exec sonta server")
    assert "exec sonta backup --scheduled" in programs["backup"]["command"]
