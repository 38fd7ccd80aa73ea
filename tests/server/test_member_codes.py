"""Member codes: every member gets a short code, printed on the badge, that finds them
in search and identifies them in the phone flow when they have no email."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from server.backend import member_codes
from server.backend.tasks.migrate import alembic_config, upgrade_to_head
from tests.server.attendance_utils import make_member
from tests.server.utils import admin_headers


def test_every_member_gets_a_distinct_short_code(client: TestClient) -> None:
    admin = admin_headers(client)
    made = [make_member(client, admin, f"Member {n}") for n in range(5)]
    codes = [m["member_code"] for m in made]
    assert len(set(codes)) == 5
    assert all(member_codes.looks_like_code(c) and len(c) == 6 for c in codes)
    csv = b"full_name,ministry\nKofi Boateng,Ushers\n"
    imported = client.post(
        "/api/members/import", files={"file": ("m.csv", csv, "text/csv")}, headers=admin
    )
    assert imported.status_code == 201, imported.text
    [kofi] = client.get("/api/members", params={"q": "Kofi"}, headers=admin).json()["data"]
    assert member_codes.looks_like_code(kofi["member_code"])


def test_search_finds_a_member_by_the_code_however_it_is_typed(client: TestClient) -> None:
    admin = admin_headers(client)
    ama = make_member(client, admin, "Ama Mensah")
    make_member(client, admin, "Kofi Boateng")
    code = ama["member_code"]
    typed = f"{code[:3].lower()}-{code[3:].lower()}"
    found = client.get("/api/members", params={"q": typed}, headers=admin).json()
    assert [m["id"] for m in found["data"]] == [ama["id"]]


def test_the_printed_badge_shows_the_member_code(client: TestClient) -> None:
    admin = admin_headers(client)
    ama = make_member(client, admin, "Ama Mensah")
    issued = client.post(f"/api/members/{ama['id']}/badges", headers=admin)
    assert issued.status_code == 201, issued.text
    sheet = client.get("/api/badges/sheet", headers=admin)
    assert f"Member code {ama['member_code']}" in sheet.text


def test_the_migration_gives_existing_members_distinct_codes(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/sonta.db")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with engine.begin() as connection:
        for n in range(20):
            connection.execute(
                text(
                    "INSERT INTO members (id, full_name, ministry, status, notes, consent_given,"
                    " created_at, updated_at) VALUES (:id, :name, 'Choir', 'active', '', 0,"
                    " '2026-01-01', '2026-01-01')"
                ),
                {"id": uuid.uuid4().hex, "name": f"Member {n}"},
            )
    upgrade_to_head(engine)
    with engine.connect() as connection:
        codes = list(connection.execute(text("SELECT member_code FROM members")).scalars())
    assert len(codes) == 20 and len(set(codes)) == 20
    assert all(member_codes.looks_like_code(c) for c in codes)
