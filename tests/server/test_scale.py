"""Scale items of issue 15 that have a behaviour to prove: trigram member search on
PostgreSQL, a broad search that reads a bounded number of rows (its count stops at a cap),
and a gallery event log that stays bounded over a year of changes.
Throughput figures live in bench/, not here.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from server.backend.crud import gallery, member_search
from server.backend.models import FaceTemplate, GalleryEvent
from tests.server.kiosk_utils import pair_kiosk
from tests.server.search_utils import (
    add_members,
    insert_members,
    rows_read,
    search,
    statements,
)
from tests.server.services.test_sync import fetch
from tests.server.utils import admin_headers, backend_of

DAYS = 365
CHANGES_PER_DAY = 6
CAP = member_search.COUNT_CAP


def test_member_search_uses_trigram_indexes_on_postgresql(client: TestClient) -> None:
    """Among members with statistics, as a served database has them: on an empty table
    never analysed every plan costs the same, and one scanning the whole name index won."""
    add_members(client, 2000, "Scale Person")
    shape = member_search.SearchShape(text=True, postgresql=True)
    values = {**member_search.parameters(q="mensah"), "cap": CAP + 1}
    with backend_of(client).sessions() as session:
        compiled = member_search.count_statement(shape).compile(session.get_bind())
        explain = f"EXPLAIN {compiled}"
        rows = session.connection().exec_driver_sql(explain, compiled.construct_params(values))
        plan = "\n".join(row[0] for row in rows)
    assert "ix_members_search_trgm" in plan, plan


def test_search_matches_any_field_in_any_case_but_never_across_two(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    body = {"full_name": "Yaw Darko", "ministry": "Choir", "email": "yd@example.org"}
    created = any_client.post(
        "/api/members", json={**body, "phone": "+233 24 555 0101"}, headers=headers
    )
    assert created.status_code == 201, created.text
    for term in ("DARKO", "yaw d", "YD@Example", "555 01", "100%", "darko\x1fyd", "darko yd"):
        found = search(any_client, headers, q=term)["data"]
        expected = term in {"DARKO", "yaw d", "YD@Example", "555 01"}
        assert [m["full_name"] for m in found] == (["Yaw Darko"] if expected else []), term


def test_a_broad_search_counts_up_to_the_cap_and_pages_to_the_end(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    add_members(any_client, CAP + 30, "Scale Person")
    first = search(any_client, headers, q="scale person", limit=20)
    assert [m["full_name"] for m in first["data"]] == [f"Scale Person {i:05d}" for i in range(20)]
    assert (first["count"], first["count_capped"], first["has_more"]) == (CAP, True, True)
    # The last page knows the exact total: everything before it plus what it holds.
    last = search(any_client, headers, q="scale person", skip=CAP, limit=50)
    assert [m["full_name"] for m in last["data"]][-1] == f"Scale Person {CAP + 29:05d}"
    assert (last["count"], last["count_capped"], last["has_more"]) == (CAP + 30, False, False)
    # Deep in a broad search, the count reaches past the end of the page asked for.
    deep = search(any_client, headers, q="scale person", skip=CAP - 10, limit=20)
    assert (deep["count"], deep["count_capped"], deep["has_more"]) == (CAP + 11, True, True)
    narrow = search(any_client, headers, q="scale person 0001")
    assert (narrow["count"], narrow["count_capped"], narrow["has_more"]) == (10, False, False)


def test_a_broad_search_reads_a_bounded_number_of_rows(client: TestClient) -> None:
    """Counting every match walked all of them (0.4 s for "mensah" at 50,000 members);
    the page and a count that stops at the cap read about the cap's worth."""
    headers = admin_headers(client)
    add_members(client, 3 * CAP, "Broad Search")
    with statements(client) as run:
        page = search(client, headers, q="broad search", limit=20)
    read = rows_read(client, run, "members")
    assert 0 < read <= CAP + 1 + 21 + 10, (read, run)
    assert (page["count"], page["count_capped"]) == (CAP, True)


def test_a_member_list_is_read_as_rows_not_orm_objects(any_client: TestClient) -> None:
    """A list is read, never changed: loading ORM objects for it took twice the time."""
    add_members(any_client, 30, "Row Member")
    with backend_of(any_client).read_sessions() as session:
        page = member_search.search(session=session, q="row member", limit=25)
        assert len(session.identity_map) == 0
    assert [row["full_name"] for row in page.members] == [f"Row Member {i:05d}" for i in range(25)]
    assert set(page.members[0]) >= {"id", "member_code", "email", "created_at", "updated_at"}
    assert (page.count, page.count_capped, page.has_more) == (30, False, True)


def test_new_members_go_straight_into_the_trigram_indexes(client: TestClient) -> None:
    """Not into GIN's pending list, which every search would read until a vacuum."""
    insert_members(client, 500, "Pending Check")
    with backend_of(client).sessions() as session:
        clean = text("SELECT gin_clean_pending_list(CAST(:name AS regclass))")
        assert session.scalar(clean, {"name": "ix_members_search_trgm"}) == 0


def test_members_are_vacuumed_after_a_hundredth_of_them_change(client: TestClient) -> None:
    """A text search passes over members in the name index only where the visibility map
    says a table page is unchanged since the last vacuum; autovacuum's default waits for a
    fifth of the table to change."""
    with backend_of(client).sessions() as session:
        options = session.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'members'"))
    assert set(options) >= {
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_insert_scale_factor=0.01",
    }


def _a_year_of_enrolments(client: TestClient) -> int:
    """Enrol and delete templates day after day, as a ministry's staff would."""
    with backend_of(client).sessions() as session:
        for day in range(DAYS):
            member = uuid.uuid4()
            ids = [uuid.uuid4() for _ in range(CHANGES_PER_DAY // 2)]
            for template_id in ids:
                template = FaceTemplate(id=template_id, member_id=member)
                gallery.record_added(session=session, template=template)
            gallery.record_deleted(session=session, member_id=member, template_ids=ids)
            if day % 7 == 6:
                session.commit()
        session.commit()
        return gallery.current_version(session=session)


def test_gallery_events_stay_bounded_and_a_kiosk_far_behind_gets_a_snapshot(
    client: TestClient,
) -> None:
    kiosk = pair_kiosk(client, admin_headers(client))
    first = fetch(client, kiosk)
    version = _a_year_of_enrolments(client)
    assert version == DAYS * CHANGES_PER_DAY
    with backend_of(client).sessions() as session:
        kept = session.scalar(select(func.count()).select_from(GalleryEvent))
    # Pruned before each write: at most one write's events above the limit.
    assert kept is not None and kept <= gallery.KEEP_EVENTS + CHANGES_PER_DAY
    behind = fetch(client, kiosk, since=1, scope=first["scope"])
    assert behind["full"] is True
    recent = fetch(client, kiosk, since=version - 10, scope=first["scope"])
    assert recent["full"] is False
