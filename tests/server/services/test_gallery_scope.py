"""A kiosk holds only the people of the meetings it serves, open or coming soon (issue 25).

Every kiosk used to download every enrolled template and name whenever no meeting was
under way, or when a meeting listed nobody. Now: nobody without a meeting, nobody for a
meeting that lists nobody unless an admin opened it to everyone, and meetings beyond
GALLERY_LOOKAHEAD_HOURS do not count yet. Admins see what each kiosk was given.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from server.backend.models import Meeting
from tests.conftest import ClientFactory
from tests.server.kiosk_utils import (
    PairedKiosk,
    enrol_face,
    make_meeting,
    make_member,
    pair_kiosk,
)
from tests.server.utils import admin_headers, backend_of


def fetch(client: TestClient, kiosk: PairedKiosk, **params: Any) -> dict[str, Any]:
    response = client.get("/api/kiosk/gallery", params=params, headers=kiosk.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def held(answer: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The member ids of the answer's templates, and of its names."""
    return (
        {t["member_id"] for t in answer["templates"]},
        {m["member_id"] for m in answer["members"] or []},
    )


def scheduled_in(client: TestClient, admin: dict[str, str], hours: float, **fields: Any) -> str:
    begins = datetime.now(UTC) + timedelta(hours=hours)
    body = {
        "title": f"In {hours} hours",
        "starts_at": begins.isoformat(),
        "ends_at": (begins + timedelta(hours=2)).isoformat(),
        **fields,
    }
    response = client.post("/api/meetings", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def undecided_meeting(client: TestClient, admin: dict[str, str]) -> str:
    """A started meeting that lists nobody and is not opened to everyone. The API no longer
    makes one (it asks who is expected), but earlier releases saved them."""
    meeting = make_meeting(client, admin, expected_ministries=["Choir"])
    with backend_of(client).sessions() as session:
        saved = session.get(Meeting, uuid.UUID(meeting))
        assert saved is not None
        saved.expected_ministries = []
        session.commit()
    return meeting


def test_a_kiosk_with_no_meeting_coming_holds_nobody(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    make_member(client, admin, "Ama")
    make_member(client, admin, "Kofi")
    answer = fetch(client, kiosk)
    assert (answer["templates"], answer["members"], answer["meetings"]) == ([], [], [])
    # A meeting two days away does not count yet, whoever it expects.
    scheduled_in(client, admin, 48, open_to_everyone=True)
    assert held(fetch(client, kiosk)) == (set(), set())


def test_the_look_ahead_is_a_setting(make_client: ClientFactory, pg_settings: Settings) -> None:
    client = make_client(pg_settings.model_copy(update={"gallery_lookahead_hours": 72}))
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    usher = make_member(client, admin, "Yaw", ministry="Ushers")
    make_member(client, admin, "Ama", ministry="Choir")
    scheduled_in(client, admin, 48, expected_ministries=["Ushers"])
    scheduled_in(client, admin, 100, open_to_everyone=True)
    assert held(fetch(client, kiosk)) == ({usher}, {usher})


def test_a_meeting_listing_nobody_sends_nobody_until_opened_to_everyone(
    client: TestClient,
) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama, kofi = make_member(client, admin, "Ama"), make_member(client, admin, "Kofi")
    away = make_member(client, admin, "Esi")
    client.patch(f"/api/members/{away}", json={"status": "inactive"}, headers=admin)
    meeting = undecided_meeting(client, admin)
    first = fetch(client, kiosk)
    assert held(first) == (set(), set())
    [view] = first["meetings"]
    assert (view["meeting_id"], view["expected_member_ids"]) == (meeting, [])
    opened = client.patch(
        f"/api/meetings/{meeting}", json={"open_to_everyone": True}, headers=admin
    )
    assert opened.status_code == 200 and opened.json()["open_to_everyone"] is True
    # The scope grew: a snapshot with every active member, never the inactive one.
    after = fetch(client, kiosk, since=first["version"], scope=first["scope"])
    assert after["full"] is True
    assert held(after) == ({ama, kofi}, {ama, kofi})


def test_someone_leaving_the_scope_is_removed_at_the_next_sync(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    usher = make_member(client, admin, "Yaw", ministry="Ushers")
    media = make_member(client, admin, "Esi", ministry="Media")
    meeting = make_meeting(client, admin, expected_ministries=["Ushers", "Media"])
    first = fetch(client, kiosk)
    assert held(first) == ({usher, media}, {usher, media})
    client.patch(
        f"/api/meetings/{meeting}", json={"expected_ministries": ["Ushers"]}, headers=admin
    )
    after = fetch(
        client,
        kiosk,
        since=first["version"],
        scope=first["scope"],
        members=first["members_digest"],
        meetings=first["meetings_digest"],
    )
    # A snapshot replaces the kiosk's gallery, names included: Esi is gone from both.
    assert after["full"] is True
    assert held(after) == ({usher}, {usher})
    # Ending the meeting leaves the kiosk with nobody.
    assert client.post(f"/api/meetings/{meeting}/end", headers=admin).status_code == 200
    assert held(fetch(client, kiosk, since=after["version"], scope=after["scope"])) == (
        set(),
        set(),
    )


def test_admins_see_what_each_kiosk_holds(client: TestClient) -> None:
    admin = admin_headers(client)
    hall, door = pair_kiosk(client, admin, "Hall"), pair_kiosk(client, admin, "Door")
    yaw = make_member(client, admin, "Yaw", ministry="Ushers")
    make_member(client, admin, "Esi", ministry="Media")
    make_member(client, admin, "Ama", ministry="Media", enrol=False)
    ushers = make_meeting(client, admin, expected_ministries=["Ushers"], kiosk_ids=[hall.id])
    media = make_meeting(client, admin, expected_ministries=["Media"])

    def listed() -> dict[str, dict[str, Any]]:
        response = client.get("/api/kiosks", headers=admin)
        assert response.status_code == 200, response.text
        return {k["name"]: k for k in response.json()}

    before = listed()["Hall"]
    assert (before["gallery_synced_at"], before["gallery_people"]) == (None, 0)
    first = fetch(client, hall)
    fetch(client, door)
    kiosks = listed()
    hall_view, door_view = kiosks["Hall"], kiosks["Door"]
    assert hall_view["gallery_synced_at"] is not None
    # People with names on the kiosk (Ama has no face yet, but her name is there).
    assert (hall_view["gallery_people"], hall_view["gallery_templates"]) == (3, 2)
    assert {(m["meeting_id"], m["people"]) for m in hall_view["gallery_meetings"]} == {
        (ushers, 1),
        (media, 2),
    }
    assert (door_view["gallery_people"], door_view["gallery_templates"]) == (2, 1)
    assert [m["meeting_id"] for m in door_view["gallery_meetings"]] == [media]
    # A quiet sync keeps the count; a delta bringing Yaw's second face adds it.
    again = {"since": first["version"], "scope": first["scope"]}
    fetch(client, hall, **again)
    assert listed()["Hall"]["gallery_templates"] == 2
    enrol_face(client, admin, yaw)
    fetch(client, hall, **again)
    hall_view = listed()["Hall"]
    assert (hall_view["gallery_people"], hall_view["gallery_templates"]) == (3, 3)
    # A kiosk credential cannot read the list.
    assert client.get("/api/kiosks", headers=hall.headers).status_code == 401


def test_check_ins_outside_the_kiosks_gallery_follow_the_meetings_rules(
    client: TestClient,
) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama")
    # Undecided: kiosks get nobody, yet the meeting still expects every active member.
    meeting = undecided_meeting(client, admin)
    assert held(fetch(client, kiosk)) == (set(), set())
    manual = client.post(
        f"/api/attendance/meetings/{meeting}/manual",
        json={"member_id": ama, "note": "no face on the kiosk"},
        headers=admin,
    )
    assert manual.status_code in (200, 201), manual.text
    assert manual.json()["record"]["status"] == "approved"


def test_each_meeting_says_whether_it_expects_everyone_the_kiosk_holds(client: TestClient) -> None:
    """An everyone meeting says so instead of listing every member; a list is exact, and
    empty it means nobody (kiosks once read an empty list as everyone they hold)."""
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama", ministry="Ushers")
    kofi = make_member(client, admin, "Kofi", ministry="Media")
    everyone = make_meeting(client, admin, open_to_everyone=True)
    ushers = make_meeting(client, admin, expected_ministries=["Ushers"])
    choir = make_meeting(client, admin, expected_ministries=["Choir"])  # nobody sings yet

    def views() -> dict[str, tuple[bool, set[str]]]:
        answer = fetch(client, kiosk)
        return {
            m["meeting_id"]: (m["expects_everyone"], set(m["expected_member_ids"]))
            for m in answer["meetings"]
        }

    assert views() == {everyone: (True, set()), ushers: (False, {ama}), choir: (False, set())}
    [hall] = client.get("/api/kiosks", headers=admin).json()
    assert {(m["meeting_id"], m["people"]) for m in hall["gallery_meetings"]} == {
        (everyone, 2),
        (ushers, 1),
        (choir, 0),
    }
    # Esi has left (inactive) but another meeting lists her, so the kiosk holds her;
    # the everyone meeting does not expect her, so it spells out whom it does expect.
    esi = make_member(client, admin, "Esi", ministry="Media")
    client.patch(f"/api/members/{esi}", json={"status": "inactive"}, headers=admin)
    farewell = make_meeting(client, admin, expected_member_ids=[esi])
    assert views() == {
        everyone: (False, {ama, kofi}),
        ushers: (False, {ama}),
        choir: (False, set()),
        farewell: (False, {esi}),
    }
