"""Scale items of issue 15 that have a behaviour to prove: trigram member search on
PostgreSQL, and a gallery event log that stays bounded over a year of changes.
Throughput figures live in bench/, not here.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from server.backend.crud import gallery
from server.backend.crud import members as members_crud
from server.backend.models import FaceTemplate, GalleryEvent
from tests.server.kiosk_utils import pair_kiosk
from tests.server.test_sync import fetch
from tests.server.utils import admin_headers, backend_of

DAYS = 365
CHANGES_PER_DAY = 6


def test_member_search_uses_trigram_indexes_on_postgresql(client: TestClient) -> None:
    with backend_of(client).sessions() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        query = members_crud.search_query(q="mensah")
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_members_full_name_trgm" in plan, plan


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
