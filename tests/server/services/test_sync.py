"""Gallery sync: full snapshots, deltas, deletions, scope changes, only to paired kiosks."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from kiosk.protocol.wire import decode
from server.backend.core.security.templates import TemplateCipher
from server.backend.models import FaceTemplate, GalleryEvent, Member
from server.backend.schemas.kiosk import GalleryMember
from server.backend.services import sync
from tests.server.kiosk_utils import (
    PairedKiosk,
    enrol_face,
    make_meeting,
    make_member,
    pair_kiosk,
    random_face,
)
from tests.server.utils import admin_headers, backend_of, session_of


def fetch(client: TestClient, kiosk: PairedKiosk, **params: Any) -> dict[str, Any]:
    response = client.get("/api/kiosk/gallery", params=params, headers=kiosk.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def template_ids(answer: dict[str, Any]) -> set[str]:
    return {t["template_id"] for t in answer["templates"]}


def test_a_new_kiosk_gets_a_full_snapshot_of_decrypted_templates(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    face = random_face()
    member = make_member(any_client, admin, "Ama", enrol=False)
    model = backend_of(any_client).face_model.model_id
    enrolled = any_client.post(
        f"/api/members/{member}/templates",
        json={"embedding": face, "model_id": model},
        headers=admin,
    ).json()
    make_member(any_client, admin, "Kofi")
    make_member(any_client, admin, "No face", enrol=False)
    make_meeting(any_client, admin, open_to_everyone=True)
    answer = fetch(any_client, kiosk)
    assert answer["full"] is True
    assert answer["model_id"] == model
    assert answer["version"] == 2
    assert len(answer["templates"]) == 2
    mine = next(t for t in answer["templates"] if t["template_id"] == enrolled["id"])
    assert mine["member_id"] == member
    assert answer["embedding_format"] == "q8"
    # int8 with one scale per template: the same direction to well within matching noise.
    assert float(np.dot(decode(mine["embedding"], "q8"), face)) > 0.9995
    assert {m["full_name"] for m in answer["members"]} == {"Ama", "Kofi", "No face"}


def test_unchanged_members_and_meetings_are_not_sent_again(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama")
    make_meeting(client, admin)
    first = fetch(client, kiosk)
    assert first["members"] and first["meetings"]
    again = {
        "since": first["version"],
        "scope": first["scope"],
        "members": first["members_digest"],
        "meetings": first["meetings_digest"],
    }
    quiet = fetch(client, kiosk, **again)
    assert (quiet["members"], quiet["meetings"], quiet["templates"]) == (None, None, [])
    client.patch(f"/api/members/{ama}", json={"full_name": "Ama Mensah"}, headers=admin)
    renamed = fetch(client, kiosk, **again)
    assert [m["full_name"] for m in renamed["members"]] == ["Ama Mensah"]
    assert renamed["meetings"] is None
    assert renamed["members_digest"] != first["members_digest"]


def test_members_go_out_as_the_schema_puts_them_so_digests_stay_as_before(
    client: TestClient,
) -> None:
    """The members list is built without a `GalleryMember` per member (that was most of a
    quiet sync's cost); it must still be exactly that schema's JSON, or every kiosk synced
    by an earlier release would be sent every name again."""
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    names = ['Zoë "Z" Ó Briain', "Akosua Nyarko-Ofori", "李小龙", "Kofi  Boateng "]
    ids = [
        make_member(client, admin, name, ministry="Ushering/Media", enrol=False) for name in names
    ]
    make_meeting(client, admin)
    answer = fetch(client, kiosk)
    with session_of(client) as session:
        rows = {str(m.id): m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    # As the earlier release built them: one schema object per member, dumped as JSON.
    expected = [
        GalleryMember(
            member_id=rows[m["member_id"]].id,
            full_name=rows[m["member_id"]].full_name,
            ministry=rows[m["member_id"]].ministry,
        ).model_dump(mode="json")
        for m in answer["members"]
    ]
    assert sorted(m["member_id"] for m in answer["members"]) == sorted(ids)
    assert answer["members"] == expected
    assert answer["members_digest"] == sync._digest(expected)


def test_the_gallery_answer_is_gzip_compressed(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    for i in range(3):
        make_member(client, admin, f"Member {i}")
    make_meeting(client, admin, open_to_everyone=True)
    response = client.get(
        "/api/kiosk/gallery", headers={**kiosk.headers, "Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["templates"]) == 3
    # Token answers are never compressed (compression side channels).
    login = client.get("/api/auth/me", headers={**admin, "Accept-Encoding": "gzip"})
    assert "content-encoding" not in login.headers


def test_templates_leave_only_to_paired_kiosks(client: TestClient) -> None:
    admin = admin_headers(client)
    make_member(client, admin, "Ama")
    assert client.get("/api/kiosk/gallery").status_code == 401
    assert client.get("/api/kiosk/gallery", headers=admin).status_code == 401
    kiosk = pair_kiosk(client, admin)
    client.post(f"/api/kiosks/{kiosk.id}/revoke", headers=admin)
    assert client.get("/api/kiosk/gallery", headers=kiosk.headers).status_code == 401


def test_deltas_bring_additions_and_deletions(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    ama, kofi = make_member(any_client, admin, "Ama"), make_member(any_client, admin, "Kofi")
    make_meeting(any_client, admin, open_to_everyone=True)
    first = fetch(any_client, kiosk)
    base = {"since": first["version"], "scope": first["scope"]}
    assert fetch(any_client, kiosk, **base)["templates"] == []
    added = enrol_face(any_client, admin, ama)
    delta = fetch(any_client, kiosk, **base)
    assert (delta["full"], template_ids(delta)) == (False, {added})
    assert delta["version"] == first["version"] + 1
    # Deleting one of Ama's two templates, then erasing all of Kofi's.
    any_client.delete(f"/api/members/{ama}/templates/{added}", headers=admin)
    any_client.delete(f"/api/members/{kofi}/templates", headers=admin)
    later = fetch(any_client, kiosk, since=delta["version"], scope=delta["scope"])
    assert later["full"] is False
    assert later["templates"] == []
    kofi_templates = {t["template_id"] for t in first["templates"] if t["member_id"] == kofi}
    assert set(later["deleted_template_ids"]) == {added} | kofi_templates
    assert later["deleted_member_ids"] == [kofi]
    # Added and deleted within one delta: only the deletion travels.
    net = fetch(any_client, kiosk, **base)
    assert net["templates"] == []
    assert added in net["deleted_template_ids"]


def test_withdrawn_consent_and_member_deletion_leave_the_kiosks(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama, kofi, yaw = (make_member(client, admin, n) for n in ("Ama", "Kofi", "Yaw"))
    make_meeting(client, admin, open_to_everyone=True)
    first = fetch(client, kiosk)
    client.put(f"/api/members/{ama}/consent", json={"given": False}, headers=admin)
    client.delete(f"/api/members/{kofi}", headers=admin)
    after = fetch(client, kiosk, since=first["version"], scope=first["scope"])
    # The set of people changed, so the kiosk replaces its gallery with Yaw alone.
    assert after["full"] is True
    assert {t["member_id"] for t in after["templates"]} == {yaw}
    with session_of(client) as session:
        actions = [
            (str(e.member_id), e.action)
            for e in session.query(GalleryEvent).order_by(GalleryEvent.id)
        ]
    assert actions[-2:] == [(ama, "deleted"), (kofi, "deleted")]


def test_a_meeting_narrows_the_gallery_to_its_expected_people(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama")
    usher = make_member(client, admin, "Yaw", ministry="Ushers")
    listed = make_member(client, admin, "Esi", ministry="Media")
    meeting = make_meeting(client, admin, open_to_everyone=True)
    everyone = fetch(client, kiosk)
    assert {t["member_id"] for t in everyone["templates"]} == {ama, usher, listed}
    changed = client.patch(
        f"/api/meetings/{meeting}",
        json={"expected_ministries": ["ushers"], "expected_member_ids": [listed]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    narrowed = fetch(client, kiosk, since=everyone["version"], scope=everyone["scope"])
    assert narrowed["full"] is True
    assert {t["member_id"] for t in narrowed["templates"]} == {usher, listed}
    [view] = narrowed["meetings"]
    assert view["meeting_id"] == meeting
    assert set(view["expected_member_ids"]) == {usher, listed}


def test_a_kiosk_too_far_behind_or_ahead_gets_a_snapshot(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    make_member(client, admin, "Ama")
    make_meeting(client, admin, open_to_everyone=True)
    first = fetch(client, kiosk)
    with session_of(client) as session:
        session.add_all(
            GalleryEvent(template_id=uuid.uuid4(), member_id=uuid.uuid4(), action="deleted")
            for _ in range(sync.MAX_DELTA_EVENTS + 1)
        )
        session.commit()
    behind = fetch(client, kiosk, since=first["version"], scope=first["scope"])
    assert behind["full"] is True
    assert len(behind["templates"]) == 1
    ahead = fetch(client, kiosk, since=behind["version"] + 10, scope=behind["scope"])
    assert ahead["full"] is True
    current = fetch(client, kiosk, since=behind["version"], scope=behind["scope"])
    assert current["full"] is False


def test_templates_of_another_recogniser_are_not_sent(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = uuid.UUID(make_member(client, admin, "Ama", enrol=False))
    cipher: TemplateCipher = backend_of(client).cipher
    vector = np.asarray(random_face(), dtype=np.float32)
    template_id = uuid.uuid4()
    sealed = cipher.seal(vector, member_id=ama, template_id=template_id, model_id="other@0")
    with session_of(client) as session:
        session.add(
            FaceTemplate(
                id=template_id,
                member_id=ama,
                model_id="other@0",
                key_version=sealed.key_version,
                nonce=sealed.nonce,
                ciphertext=sealed.ciphertext,
            )
        )
        session.commit()
    make_meeting(client, admin, open_to_everyone=True)
    answer = fetch(client, kiosk)
    assert [m["member_id"] for m in answer["members"]] == [str(ama)]
    assert answer["templates"] == []


def test_revoked_badges_are_listed_for_offline_refusal(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama", enrol=False)
    first = client.post(f"/api/members/{ama}/badges", headers=admin).json()
    second = client.post(f"/api/members/{ama}/badges", headers=admin).json()
    answer = fetch(client, kiosk)
    assert answer["revoked_badge_ids"] == [first["id"]]
    client.post(f"/api/members/{ama}/badges/{second['id']}/revoke", headers=admin)
    assert set(fetch(client, kiosk)["revoked_badge_ids"]) == {first["id"], second["id"]}


def test_a_kiosk_syncs_only_the_people_of_the_meetings_it_serves(client: TestClient) -> None:
    admin = admin_headers(client)
    hall, door = pair_kiosk(client, admin, "Hall"), pair_kiosk(client, admin, "Door")
    usher = make_member(client, admin, "Yaw", ministry="Ushers")
    media = make_member(client, admin, "Esi", ministry="Media")
    make_member(client, admin, "Ama", ministry="Choir")
    ushers_meeting = make_meeting(
        client, admin, expected_ministries=["Ushers"], kiosk_ids=[hall.id]
    )
    # The hall's own meeting: the door kiosk serves nothing under way, so gets nobody.
    assert template_member_ids(fetch(client, hall)) == {usher}
    door_answer = fetch(client, door)
    assert (door_answer["templates"], door_answer["meetings"]) == ([], [])
    # A meeting that lists no kiosk is served by every kiosk.
    make_meeting(client, admin, expected_ministries=["Media"])
    assert template_member_ids(fetch(client, hall)) == {usher, media}
    door_answer = fetch(client, door)
    assert template_member_ids(door_answer) == {media}
    assert ushers_meeting not in {m["meeting_id"] for m in door_answer["meetings"]}


def test_meeting_kiosks_must_exist(client: TestClient) -> None:
    admin = admin_headers(client)
    unknown = str(uuid.uuid4())
    response = client.post(
        "/api/meetings",
        json={
            "title": "Heads",
            "starts_at": "2030-01-01T10:00:00Z",
            "ends_at": "2030-01-01T12:00:00Z",
            "kiosk_ids": [unknown],
        },
        headers=admin,
    )
    assert response.status_code == 422
    assert unknown in response.json()["detail"]


def template_member_ids(answer: dict[str, Any]) -> set[str]:
    return {t["member_id"] for t in answer["templates"]}
