"""Reports: a meeting's present, late, pending and absent people; a member's history;
trends and the overview; CSV and XLSX exports whose contents are read back."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from server.backend.models import AttendanceRecord, Meeting, Member
from server.backend.services import attendance, reports
from server.backend.services.exports import header
from tests.server.attendance_utils import make_meeting, make_member, store_checkin
from tests.server.utils import admin_headers, backend_of

NOW = datetime.now(UTC)
HEADER = header(ZoneInfo("UTC"))


@dataclass
class Season:
    client: TestClient
    headers: dict[str, str]
    current: dict[str, Any]
    earlier: dict[str, Any]
    people: dict[str, dict[str, Any]]


def _on_time(client: TestClient, meeting_id: str, member_id: str) -> None:
    """A kiosk check-in made 40 minutes ago (before the late time), uploaded now."""
    with backend_of(client).sessions() as session:
        meeting = session.get(Meeting, uuid.UUID(meeting_id))
        assert meeting is not None
        attendance.record_checkin(
            session,
            meeting=meeting,
            member_id=uuid.UUID(member_id),
            method="face",
            status="approved",
            similarity=0.7,
            device_time=NOW - timedelta(minutes=40),
            clock_drift_s=0.0,
        )
        session.commit()


@pytest.fixture
def season(any_client: TestClient) -> Season:
    """Two choir meetings: an ended one nobody attended, and a current one where Ama came
    on time, Kofi late, Esi awaits review and "=2+3 Abena" is absent. Yaw is an usher."""
    client, headers = any_client, admin_headers(any_client)
    people = {
        name.split()[-1]: make_member(client, headers, name, ministry, email=email, phone=phone)
        for name, ministry, email, phone in (
            ("Ama Mensah", "Choir", "ama@example.org", None),
            ("Kofi Boateng", "Choir", None, None),
            ("Esi Owusu", "Choir", None, None),
            ("=2+3 Abena", "Choir", None, "+233 24 000 0004"),
            ("Yaw Darko", "Ushers", None, None),
        )
    }
    choir = {"expected_ministries": ["Choir"]}
    earlier = make_meeting(client, headers, **choir)
    assert client.post(f"/api/meetings/{earlier['id']}/end", headers=headers).status_code == 200
    current = make_meeting(
        client,
        headers,
        title="Choir rehearsal",
        starts_at=(NOW - timedelta(hours=1)).isoformat(),
        late_after=(NOW - timedelta(minutes=10)).isoformat(),
        **choir,
    )
    _on_time(client, current["id"], people["Mensah"]["id"])
    manual = client.post(
        f"/api/attendance/meetings/{current['id']}/manual",
        json={"member_id": people["Boateng"]["id"]},
        headers=headers,
    )
    assert manual.status_code == 201 and manual.json()["record"]["late"] is True
    store_checkin(client, current["id"], people["Owusu"]["id"])
    return Season(client, headers, current, earlier, people)


def test_a_meeting_report_counts_present_late_pending_and_absent(season: Season) -> None:
    url = f"/api/reports/meetings/{season.current['id']}"
    report = season.client.get(url, headers=season.headers).json()
    counts = {k: report[k] for k in ("expected", "present", "late", "pending_review", "absent")}
    assert counts == {"expected": 4, "present": 2, "late": 1, "pending_review": 1, "absent": 1}
    assert report["attendance_rate"] == 0.5
    presence = {p["full_name"]: p["presence"] for p in report["people"]}
    assert presence == {
        "=2+3 Abena": "absent",
        "Ama Mensah": "present",
        "Esi Owusu": "pending_review",
        "Kofi Boateng": "late",
    }


def test_the_absent_list_and_register_export_as_csv(season: Season) -> None:
    url = f"/api/reports/meetings/{season.current['id']}/export"
    absent = season.client.get(url, params={"list": "absent"}, headers=season.headers)
    assert absent.status_code == 200
    assert absent.headers["content-type"].startswith("text/csv")
    assert "choir-rehearsal-" in absent.headers["content-disposition"]
    assert "-absent-" in absent.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(absent.content.decode("utf-8-sig"))))
    # The formula-like name is written as text, not as a formula.
    assert rows == [
        list(HEADER),
        ["'=2+3 Abena", "Choir", "", "absent", "", "", "Choir rehearsal", "'+233 24 000 0004"],
    ]

    register = season.client.get(url, headers=season.headers)
    table = list(csv.reader(io.StringIO(register.content.decode("utf-8-sig"))))[1:]
    assert [(r[0], r[3], r[5]) for r in table] == [
        ("'=2+3 Abena", "absent", ""),
        ("Ama Mensah", "present", "face"),
        ("Esi Owusu", "pending_review", "face"),
        ("Kofi Boateng", "late", "manual"),
    ]
    assert table[1][2] == "ama@example.org" and table[1][4].startswith(f"{NOW:%Y-%m-%d}")
    audit = season.client.get(
        "/api/audit", params={"action": "report.export"}, headers=season.headers
    )
    assert audit.json()["count"] == 2


def test_the_register_exports_as_xlsx(season: Season) -> None:
    url = f"/api/reports/meetings/{season.current['id']}/export"
    response = season.client.get(url, params={"format": "xlsx"}, headers=season.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    values = [tuple(cell or "" for cell in row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Choir rehearsal" and values[1] == HEADER
    assert [(v[0], v[3]) for v in values[2:]] == [
        ("'=2+3 Abena", "absent"),
        ("Ama Mensah", "present"),
        ("Esi Owusu", "pending_review"),
        ("Kofi Boateng", "late"),
    ]


def test_a_member_history_lists_every_meeting_that_expected_them(season: Season) -> None:
    kofi = season.people["Boateng"]["id"]
    history = season.client.get(f"/api/reports/members/{kofi}", headers=season.headers).json()
    assert (history["meetings"], history["present"], history["late"], history["absent"]) == (
        2,
        1,
        1,
        1,
    )
    assert [h["presence"] for h in history["history"]] == ["late", "absent"]  # by start time
    usher = season.people["Darko"]["id"]
    nothing = season.client.get(f"/api/reports/members/{usher}", headers=season.headers).json()
    assert (nothing["meetings"], nothing["attendance_rate"]) == (0, None)


def test_trends_and_overview_add_up(season: Season) -> None:
    trends = season.client.get(
        "/api/reports/trends", params={"period": "week"}, headers=season.headers
    ).json()
    assert sum(p["meetings"] for p in trends["points"]) == 2
    assert sum(p["expected"] for p in trends["points"]) == 8
    assert sum(p["present"] for p in trends["points"]) == 2
    assert sum(p["late"] for p in trends["points"]) == 1
    monday = datetime.fromisoformat(trends["points"][-1]["period_start"]).weekday()
    assert monday == 0

    overview = season.client.get("/api/reports/overview", headers=season.headers).json()
    assert overview["meetings"] == {"scheduled": 0, "active": 1, "ended": 1, "cancelled": 0}
    assert overview["checkins"] == {"approved": 2, "pending_review": 1, "rejected": 0}
    assert (overview["late"], overview["active_members"]) == (1, 5)
    assert overview["attendance_rate"] == 0.25
    future = (NOW + timedelta(days=1)).isoformat()
    later = season.client.get(
        "/api/reports/overview", params={"since": future}, headers=season.headers
    ).json()
    assert later["meetings"]["active"] == 0 and later["attendance_rate"] is None


def test_trends_of_one_ministry_count_only_its_people_and_their_meetings(season: Season) -> None:
    """A third meeting expects only Yaw the usher, who comes: it counts for the ushers and
    for everyone, not for the choir."""
    client, headers = season.client, season.headers
    yaw = season.people["Darko"]["id"]
    ushers = make_meeting(client, headers, title="Ushers' briefing", expected_member_ids=[yaw])
    manual = client.post(
        f"/api/attendance/meetings/{ushers['id']}/manual", json={"member_id": yaw}, headers=headers
    )
    assert manual.status_code == 201, manual.text

    def totals(**params: str) -> tuple[int, int, int, int, str | None]:
        answer = client.get("/api/reports/trends", params=params, headers=headers).json()
        points = answer["points"]
        return (
            sum(p["meetings"] for p in points),
            sum(p["expected"] for p in points),
            sum(p["present"] for p in points),
            sum(p["late"] for p in points),
            answer["ministry"],
        )

    assert totals() == (3, 9, 3, 1, None)
    assert totals(ministry="Choir") == (2, 8, 2, 1, "Choir")
    assert totals(ministry="Ushers") == (1, 1, 1, 0, "Ushers")
    assert totals(ministry="Elders") == (0, 0, 0, 0, "Elders")
    overview = client.get("/api/reports/overview", headers=headers).json()
    assert overview["ministries"] == ["Choir", "Ushers"]
    bad = client.get("/api/reports/trends", params={"ministry": "x" * 121}, headers=headers)
    assert bad.status_code == 422


def test_reports_need_an_admin_and_refuse_bad_input(season: Season) -> None:
    meeting = season.current["id"]
    assert season.client.get(f"/api/reports/meetings/{meeting}/export").status_code == 401
    assert season.client.get("/api/reports/overview").status_code == 401
    missing = season.client.get(f"/api/reports/meetings/{uuid.uuid4()}", headers=season.headers)
    assert missing.status_code == 404
    bad = season.client.get(
        f"/api/reports/meetings/{meeting}/export", params={"format": "pdf"}, headers=season.headers
    )
    assert bad.status_code == 422
    naive = season.client.get(
        "/api/reports/overview", params={"since": "2026-01-01T00:00:00"}, headers=season.headers
    )
    assert naive.status_code == 422


def test_trends_and_meeting_reports_agree_with_asking_every_member(any_client: TestClient) -> None:
    """Trends count from per-ministry totals and a meeting report reads only its people;
    on random members, meetings and check-ins (listed people, ministries written in other
    cases, inactive members, people who came unexpected, pending and rejected records)
    both agree with the definition: ask `attendance.is_expected` of every member."""
    rng = random.Random(15)
    ministries = ["Choir", "choir ", "Ushers", "Media", "Prayer"]
    with backend_of(any_client).sessions() as session:
        members = [
            Member(
                full_name=f"Random Person {i}",
                ministry=rng.choice(ministries),
                status=rng.choice(["active", "active", "active", "inactive"]),
                member_code=f"R{i:05d}",
            )
            for i in range(120)
        ]
        session.add_all(members)
        session.flush()
        meetings = []
        for n in range(12):
            starts = NOW - timedelta(days=rng.randrange(90))
            meeting = Meeting(
                title=f"Random meeting {n}",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                status=rng.choice(["active", "ended", "ended", "scheduled", "cancelled"]),
                expected_ministries=rng.sample(["CHOIR", "Ushers", "Media"], rng.randrange(3)),
                expected_member_ids=[str(m.id) for m in rng.sample(members, rng.randrange(4))],
            )
            session.add(meeting)
            meetings.append(meeting)
        session.flush()
        for meeting in meetings:
            for member in rng.sample(members, 25):
                session.add(
                    AttendanceRecord(
                        meeting_id=meeting.id,
                        member_id=member.id,
                        method="manual",
                        status=rng.choice(["approved", "approved", "pending_review", "rejected"]),
                        late=rng.random() < 0.3,
                    )
                )
        session.commit()
        for ministry in (None, "Choir", "choir ", "Ushers", "Elders"):
            session.expunge_all()
            with _members_loaded() as loaded:
                got = reports.trends(session, period="month", ministry=ministry)
            # Counted, not loaded: walking 50,000 members for every meeting took seconds.
            assert loaded == [], ministry
            expected = _trends_by_definition(session, ministry)
            assert [p.model_dump() for p in got.points] == expected, ministry
        for meeting in meetings:
            with _members_loaded() as loaded:
                report = reports.meeting_report(session, meeting_id=meeting.id)
            assert loaded == []
            best = _counting_records(session, meeting)
            everyone = session.scalars(select(Member).order_by(Member.full_name, Member.id))
            assert [(line.member_id, line.presence) for line in report.people] == [
                (m.id, _presence(best.get(m.id)))
                for m in everyone
                if m.id in best or attendance.is_expected(meeting, m)
            ]


@contextmanager
def _members_loaded() -> Iterator[list[Member]]:
    """Each Member the ORM loads meanwhile."""
    loaded: list[Member] = []

    def note(member: Member, _context: object) -> None:
        loaded.append(member)

    event.listen(Member, "load", note)
    try:
        yield loaded
    finally:
        event.remove(Member, "load", note)


def _presence(record: AttendanceRecord | None) -> str:
    if record is None:
        return "absent"
    if record.status == "pending_review":
        return "pending_review"
    return "late" if record.late else "present"


def _counting_records(session: Session, meeting: Meeting) -> dict[uuid.UUID, Any]:
    rows = session.scalars(
        select(AttendanceRecord).where(
            AttendanceRecord.meeting_id == meeting.id,
            AttendanceRecord.status.in_(["approved", "pending_review"]),
        )
    ).all()
    best = {r.member_id: r for r in rows if r.status == "pending_review"}
    best.update({r.member_id: r for r in rows if r.status == "approved"})
    return best


def _trends_by_definition(session: Session, ministry: str | None) -> list[dict[str, Any]]:
    members = session.scalars(select(Member)).all()
    if ministry is not None:
        members = [m for m in members if m.ministry == ministry]
    buckets: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    took = session.scalars(select(Meeting).where(Meeting.status.in_(["active", "ended"])))
    for meeting in took:
        best = _counting_records(session, meeting)
        people = [m for m in members if m.id in best or attendance.is_expected(meeting, m)]
        if ministry is not None and not people:
            continue
        present = [best[m.id] for m in people if m.id in best and best[m.id].status == "approved"]
        start = meeting.starts_at.date().replace(day=1)
        bucket = buckets[start]
        for index, value in enumerate((1, len(people), len(present), sum(r.late for r in present))):
            bucket[index] += value
    return [
        {
            "period_start": start,
            "meetings": n,
            "expected": expected,
            "present": present,
            "late": late,
            "attendance_rate": round(present / expected, 4) if expected else None,
        }
        for start, (n, expected, present, late) in sorted(buckets.items())
    ]
