"""The README's "first meeting in ten minutes", run as written against a real server.

The `sh` blocks of that section run in one bash process, in order, in a scratch folder
where `./run.sh ARGS` runs `sonta ARGS` as the real script does once its environment is
set up. The server is the backend over real HTTP on the embedded defaults (SQLite and
development secrets in one data directory shared with those commands) and a real
face-service on the offline pack. The blocks fenced `bash` (starting the server) are
what this test does itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.backend.core.config import load_settings
from server.backend.main import create_app
from tests.kiosk.conftest import photo_path
from tests.server.live import serve

pytestmark = [pytest.mark.model, pytest.mark.network]

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Your first meeting in ten minutes"
PASSWORD = "a long and private passphrase"


def walkthrough_script() -> str:
    text = README.read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + len(SECTION))]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) >= 6, "the walkthrough lost its steps"
    return "set -euo pipefail\n" + "\n".join(blocks)


@pytest.fixture
def server(tmp_path: Path, shared_face_service: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The backend on a data directory the walkthrough's commands share, and their env."""
    env = {
        "SONTA_DATA_DIR": str(tmp_path / "data"),
        "FACE_MODEL": "vectron",
        "FACE_SERVICE_URL": shared_face_service,
    }
    with serve(create_app(load_settings(env))) as url:
        yield url, env


def _scratch(tmp_path: Path) -> Path:
    """The admin's folder: `./run.sh` and the photos the walkthrough names."""
    folder = tmp_path / "admin"
    (folder / "photos").mkdir(parents=True)
    run = folder / "run.sh"
    run.write_text(f'#!/bin/sh\nexec "{Path(sys.executable).parent / "sonta"}" "$@"\n')
    run.chmod(0o755)
    for name, source in (("ama", "obama"), ("kofi", "biden"), ("ama-selfie", "obama2")):
        shutil.copyfile(photo_path(source), folder / "photos" / f"{name}.jpg")
    return folder


def test_the_readme_walkthrough_runs_as_written(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    folder = _scratch(tmp_path)
    script = walkthrough_script().replace("SONTA=http://localhost:3000", f"SONTA={url}")
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env={**keep, **env, "HOME": str(tmp_path / "home"), "NO_PROXY": "*"},
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    said = done.stdout + done.stderr
    assert "with the role super_admin" in said
    assert "photos/ama.jpg: enrolled for Ama Mensah" in said
    assert "photos/kofi.jpg: enrolled for Kofi Boateng" in said
    assert "Ama Mensah, you are checked in." in said
    # The display link carries PUBLIC_URL's development default, the LAN address.
    assert f"{load_settings(env).public_base_url}/present?meeting=" in said
    [export] = folder.glob("sonta-heads-meeting-*-attendance-*.xlsx")
    assert export.stat().st_size > 0
    _check_state(url)


def _check_state(url: str) -> None:
    """What the walkthrough should have left, read back through the API."""
    with httpx.Client(base_url=url, trust_env=False) as api:
        login = api.post("/api/auth/login", json={"email": "you@example.org", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        members = api.get("/api/members", headers=headers).json()["data"]
        assert [m["full_name"] for m in members] == ["Ama Mensah", "Kofi Boateng"]
        for member in members:
            templates = api.get(f"/api/members/{member['id']}/templates", headers=headers)
            assert len(templates.json()) == 1
        [meeting] = api.get("/api/meetings", headers=headers).json()["data"]
        assert meeting["status"] == "active"
        report = api.get(f"/api/reports/meetings/{meeting['id']}", headers=headers).json()
        present = [p["full_name"] for p in report["people"] if p["presence"] == "present"]
        assert present == ["Ama Mensah"]
