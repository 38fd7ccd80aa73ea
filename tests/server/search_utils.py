"""Helpers for the member-search tests: members in bulk, a search through the API, the SQL
the backend runs meanwhile, and how many rows of a table its plans read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text

from server.backend.models import Member
from tests.server.utils import backend_of


def add_members(client: TestClient, count: int, name: str) -> None:
    """`count` members called "`name` 00000"..., settled as autovacuum would settle them
    soon after (see `settle`)."""
    insert_members(client, count, name)
    settle(client, "members")


def insert_members(client: TestClient, count: int, name: str, first: int = 0) -> None:
    """`count` members called "`name` 00000"..., numbered from `first` (which also makes
    their member codes), straight in the database (the API would take minutes)."""
    with backend_of(client).sessions() as session:
        session.add_all(
            Member(full_name=f"{name} {i:05d}", ministry="Choir", member_code=f"T{i:07d}")
            for i in range(first, first + count)
        )
        session.commit()


def settle(client: TestClient, table: str) -> None:
    """On PostgreSQL, what autovacuum does soon after a bulk import (inserts alone start
    it): statistics, without which searches are planned blind, and the visibility map,
    without which an index-only scan still reads the table."""
    engine = backend_of(client).engine
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM (ANALYZE) {table}"))


def search(client: TestClient, headers: dict[str, str], **params: object) -> dict[str, Any]:
    response = client.get("/api/members", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def statements(client: TestClient) -> Iterator[list[tuple[str, Any]]]:
    """The SQL the backend runs meanwhile, with its parameters, in order."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, params: Any, *_: object) -> None:
        seen.append((statement, params))

    engine = backend_of(client).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def rows_read(client: TestClient, run: list[tuple[str, Any]], table: str) -> int:
    """Rows of `table` itself that the queries in `run` read, by EXPLAIN ANALYZE on
    PostgreSQL: those each scan of it kept or threw away, where an index-only scan counts
    only the rows it had to fetch from the table (its index entries are not rows read).
    Only queries are explained: EXPLAIN ANALYZE would run a write again."""
    total = 0
    with backend_of(client).engine.connect() as connection:
        for statement, params in run:
            if statement.lstrip().upper().startswith("SELECT") and table in statement:
                explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
                plan = connection.exec_driver_sql(explain, params).scalar_one()
                plan = json.loads(plan) if isinstance(plan, str) else plan
                total += _rows_read(plan[0]["Plan"], table)
    return total


def _rows_read(node: dict[str, Any], table: str) -> int:
    own = 0
    if node.get("Relation Name") == table:
        if node["Node Type"] == "Index Only Scan":
            own = node["Heap Fetches"]  # a total; the other figures are per loop
        else:
            thrown = (node.get(f"Rows Removed by {why}", 0) for why in ("Filter", "Index Recheck"))
            own = (node["Actual Rows"] + sum(thrown)) * node["Actual Loops"]
    return own + sum(_rows_read(child, table) for child in node.get("Plans", []))
