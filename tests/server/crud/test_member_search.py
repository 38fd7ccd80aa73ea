"""Member search: its pages keep their order, and whose face is enrolled is asked of the
page's rows only, however many members match or have a face."""

from __future__ import annotations

import uuid

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from server.backend.crud import member_search, templates
from server.backend.models import FaceTemplate, Member
from tests.server.search_utils import (
    add_members,
    insert_members,
    rows_read,
    search,
    settle,
    statements,
)
from tests.server.utils import admin_headers, backend_of

# Templates enough that probing a page's rows costs PostgreSQL less than hashing them all.
FACES_AT_SCALE = 12_000


def _enrol(client: TestClient, member_ids: list[uuid.UUID]) -> None:
    """A template of the server's recogniser for each member, sealed as the server seals
    them, straight in the database, settled as autovacuum would settle them."""
    backend = backend_of(client)
    model_id = backend.face_model.model_id
    rng = np.random.default_rng(11)
    rows = []
    for member_id in member_ids:
        vector = rng.normal(size=512).astype(np.float32)
        vector /= np.linalg.norm(vector)
        rows.append(
            templates.sealed_columns(backend.cipher, vector, member_id=member_id, model_id=model_id)
        )
    with backend.sessions() as session:
        session.execute(insert(FaceTemplate), rows)
        session.commit()
    settle(client, "face_templates")


def _member_ids(client: TestClient, name_like: str) -> list[uuid.UUID]:
    with backend_of(client).sessions() as session:
        query = select(Member.id).where(Member.full_name.like(name_like))
        return list(session.scalars(query))


def test_namesakes_keep_one_order_across_pages_with_their_own_face_flags(
    any_client: TestClient,
) -> None:
    """Pages follow name, then id among namesakes, so paging on neither repeats nor skips
    anyone; each row's face flag is that member's own."""
    headers = admin_headers(any_client)
    for name in ("Same Name", "Same Name", "Other Person", "Same Name", "Same Name", "Same Name"):
        created = any_client.post(
            "/api/members", json={"full_name": name, "ministry": "Choir"}, headers=headers
        )
        assert created.status_code == 201, created.text
    namesakes = sorted(_member_ids(any_client, "Same Name"), key=str)
    enrolled = set(namesakes[::2])
    _enrol(any_client, sorted(enrolled, key=str))

    pages = [search(any_client, headers, q="same name", skip=s, limit=2) for s in (0, 2, 4)]
    listed = [row for page in pages for row in page["data"]]
    assert [row["id"] for row in listed] == [str(member_id) for member_id in namesakes]
    assert [row["face_enrolled"] for row in listed] == [m in enrolled for m in namesakes]
    assert [(p["count"], p["has_more"]) for p in pages] == [(5, True), (5, True), (5, False)]


def test_whose_face_is_enrolled_is_asked_of_the_page_only(client: TestClient) -> None:
    """Asked of every matching row, the question made PostgreSQL hash every template of
    the recogniser for a first page (40,000 of them at 50,000 members). Below some
    thousands of templates hashing them all is the cheaper plan, and PostgreSQL rightly
    takes it: so this many."""
    headers = admin_headers(client)
    add_members(client, FACES_AT_SCALE, "Face Owner")
    _enrol(client, _member_ids(client, "Face Owner%"))
    with statements(client) as run:
        everyone = search(client, headers, limit=20)
        broad = search(client, headers, q="face owner", limit=20)
        rare = search(client, headers, q="face owner 00012")
    assert all(row["face_enrolled"] for row in everyone["data"] + broad["data"] + rare["data"])
    assert [row["full_name"] for row in rare["data"]] == ["Face Owner 00012"]
    read = rows_read(client, run, "face_templates")
    assert 0 < read <= 21 + 21 + 1, (read, run)


def test_a_common_surnames_page_reads_only_its_own_rows(client: TestClient) -> None:
    """In name order a surname comes after every other surname of the same first name: at
    50,000 members "mensah" passed 3,125 members, each read from the table, before its
    first page. The name index holds what a text search tests, so those are passed over
    in the index and only the page's rows are read."""
    insert_members(client, 4000, "Abena Agyeman")
    insert_members(client, 1000, "Abena Mensah", first=4000)
    settle(client, "members")
    model_id = backend_of(client).face_model.model_id
    with statements(client) as run, backend_of(client).read_sessions() as session:
        page = member_search.search(session=session, q="mensah", limit=20, face_model_id=model_id)
    assert [row["full_name"] for row in page.members] == [
        f"Abena Mensah {i:05d}" for i in range(4000, 4020)
    ]
    assert (page.count, page.count_capped, page.has_more) == (1000, False, True)
    page_statement, _count = run
    assert rows_read(client, [page_statement], "members") <= 20 + 1, page_statement


def test_each_kind_of_search_is_one_statement_with_its_values_bound() -> None:
    """Searches of one kind share one statement (built once, its SQL cached by SQLAlchemy
    and PostgreSQL), and no value a person typed reaches the SQL text."""
    shape = member_search.SearchShape(text=True, ministry=True, status=True, faces=True)
    statement = member_search.page_statement(shape)
    assert member_search.page_statement(member_search.SearchShape(**vars(shape))) is statement
    values = member_search.parameters(q="Zed' OR 1=1 --", ministry=" Choir ", status="active")
    assert values["pattern"] == "%Zed' OR 1=1 --%"
    assert values["ministry"] == "choir"
    sql = str(statement.compile())
    assert not [value for value in values.values() if value in sql], sql
