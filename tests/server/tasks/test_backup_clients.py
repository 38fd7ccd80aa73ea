"""`sonta backup` on PostgreSQL names the client version it needs before it starts, when
this machine's `pg_dump` is older than the server (pg_dump refuses a newer server)."""

from __future__ import annotations

import shutil
import subprocess

import psycopg

from server.backend.tasks.backups.database import client_problem
from tests.server.conftest import PG


def _installed_pg_dump() -> tuple[str, int]:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "PostgreSQL's client programs are part of the test machine's setup"
    output = subprocess.run([pg_dump, "--version"], capture_output=True, text=True, check=True)
    return output.stdout, int(output.stdout.split(") ")[1].split(".")[0])


def test_a_server_newer_than_pg_dump_is_named_with_the_client_to_install() -> None:
    output, major = _installed_pg_dump()
    problem = client_problem("pg_dump", output, (major + 2) * 10000 + 3)
    assert problem is not None
    assert f"runs PostgreSQL {major + 2}" in problem
    assert f"PostgreSQL {major}'s" in problem
    assert f"postgresql-client-{major + 2}" in problem
    assert "Nothing was written" in problem


def test_the_same_or_an_older_server_is_fine() -> None:
    output, major = _installed_pg_dump()
    with psycopg.connect(**PG, dbname="postgres") as connection:  # type: ignore[arg-type]
        row = connection.execute("SHOW server_version_num").fetchone()
    assert row is not None
    assert int(row[0]) // 10000 <= major, "the test server is newer than its own pg_dump"
    assert client_problem("pg_dump", output, int(row[0])) is None
    assert client_problem("pg_dump", output, (major - 3) * 10000) is None
    assert client_problem("pg_dump", "pg_dump (PostgreSQL) 17.2", 170002) is None
