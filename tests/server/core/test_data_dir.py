"""The data directory is owner-only: 0700, its database and secrets 0600 (issue 13)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from server.backend.core.config import load_settings
from tests.conftest import NO_FACE_SERVICE, ClientFactory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_data_directory_is_owner_only(make_client: ClientFactory, tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "sonta"
    previous = os.umask(0o022)  # the usual umask, which left it 0755 and the files 0644
    try:
        client = make_client(load_settings({"SONTA_DATA_DIR": str(data), **NO_FACE_SERVICE}))
    finally:
        os.umask(previous)
    assert client.get("/health").json()["database"] == "ok"
    assert mode(data) == 0o700
    files = {p.name: mode(p) for p in data.iterdir() if p.is_file()}
    assert {"sonta.db", "dev-secrets.json"} <= set(files)
    assert set(files.values()) == {0o600}, files


def test_an_existing_open_data_directory_is_closed_at_start(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    data = tmp_path / "sonta"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "sonta.db").touch(mode=0o644)
    make_client(load_settings({"SONTA_DATA_DIR": str(data), **NO_FACE_SERVICE}))
    assert mode(data) == 0o700
    assert mode(data / "sonta.db") == 0o600
