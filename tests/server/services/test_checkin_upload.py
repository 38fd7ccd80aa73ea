"""Kiosk check-in upload: idempotency keys, per-item results, the server's own checks."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from server.backend.models import AttendanceRecord, KioskCheckin
from server.backend.services.live_events import LiveEvent, meeting_channel
from tests.server.kiosk_utils import (
    PairedKiosk,
    make_meeting,
    make_member,
    model_id,
    pair_kiosk,
    probe_for,
)
from tests.server.utils import admin_headers, backend_of, session_of


def item(client: TestClient, meeting_id: str, member_id: str, **fields: Any) -> dict[str, Any]:
    """A check-in as a kiosk sends it: its probe scores `similarity` on the server too
    (`probe=None` sends none, as kiosks from before probes did)."""
    sent = {
        "key": uuid.uuid4().hex,
        "meeting_id": meeting_id,
        "member_id": member_id,
        "method": "face",
        "similarity": 0.71,
        "margin": 0.3,
        "device_time": datetime.now(UTC).isoformat(),
        "model_id": model_id(client),
        **fields,
    }
    if "probe" not in fields:
        sent["probe"] = probe_for(client, member_id, float(sent["similarity"]))
    elif fields["probe"] is None:
        del sent["probe"]
    return sent


def upload(
    client: TestClient, kiosk: PairedKiosk, items: list[dict[str, Any]], **batch: Any
) -> list[dict[str, Any]]:
    response = client.post(
        "/api/kiosk/checkins", json={"items": items, **batch}, headers=kiosk.headers
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def count(client: TestClient, table: type[AttendanceRecord] | type[KioskCheckin]) -> int:
    with session_of(client) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_resent_batch_stores_nothing_new_and_returns_the_first_results(
    any_client: TestClient,
) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    meeting = make_meeting(any_client, admin)
    members = [make_member(any_client, admin, f"Member {i}", enrol=False) for i in range(3)]
    batch = [item(any_client, meeting, m) for m in members]
    first = upload(any_client, kiosk, batch)
    assert [r["result"] for r in first] == ["recorded"] * 3
    # No face crops: the server has no evidence of its own, so a person decides.
    assert {r["status"] for r in first} == {"pending_review"}
    assert [r["key"] for r in first] == [i["key"] for i in batch]
    again = upload(any_client, kiosk, batch)
    assert again == first
    assert count(any_client, AttendanceRecord) == 3
    assert count(any_client, KioskCheckin) == 3


def test_a_reused_key_with_another_payload_is_refused(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    meeting = make_meeting(any_client, admin)
    ama, kofi = (make_member(any_client, admin, n, enrol=False) for n in ("Ama", "Kofi"))
    original = item(any_client, meeting, ama)
    stored = upload(any_client, kiosk, [original])[0]
    reused = upload(any_client, kiosk, [{**original, "member_id": kofi}])[0]
    assert reused["result"] == "refused"
    assert reused["reason"] == "idempotency key reused with a different payload"
    assert upload(any_client, kiosk, [original])[0] == stored
    # The same key twice within one new batch: the second copy is answered from the first.
    twice = item(any_client, meeting, kofi, similarity=0.35)
    doubled = upload(any_client, kiosk, [twice, twice, {**twice, "similarity": 0.36}])
    assert doubled[0] == doubled[1]
    assert doubled[0]["status"] == "pending_review"
    assert doubled[2]["reason"] == "idempotency key reused with a different payload"
    assert count(any_client, AttendanceRecord) == 2


def test_a_partly_bad_batch_stores_the_good_items(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin, expected_ministries=["Choir"])
    good = make_member(client, admin, "Ama", enrol=False)
    outsider = make_member(client, admin, "Yaw", ministry="Ushers", enrol=False)
    batch = [
        item(client, meeting, good),
        {"key": "broken-1", "meeting_id": meeting},
        "not an object",
        item(client, str(uuid.uuid4()), good),
        item(client, meeting, outsider),
        item(client, meeting, good, model_id="buffalo_s@0123456789abcdef"),
        item(client, meeting, good, similarity=0.12),
    ]
    results = upload(client, kiosk, batch)
    assert [r["result"] for r in results] == ["recorded"] + ["refused"] * 6
    reasons = [r["reason"] for r in results[1:]]
    assert reasons[0].startswith("invalid item: member_id: Field required")
    assert results[1]["key"] == "broken-1"
    assert reasons[1] == "invalid item: an item must be a JSON object"
    assert reasons[2] == "no such meeting"
    assert reasons[3] == "This person is not expected at this meeting."
    assert "recogniser" in reasons[4] and "update the kiosk" in reasons[4]
    assert "not similar enough" in reasons[5]
    assert count(client, AttendanceRecord) == 1


def test_a_second_check_in_is_answered_already_checked_in(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk, other = pair_kiosk(client, admin), pair_kiosk(client, admin, name="Side door")
    meeting = make_meeting(client, admin)
    ama = make_member(client, admin, "Ama", enrol=False)
    first = upload(client, kiosk, [item(client, meeting, ama)])[0]
    # Without a face crop it waits for an admin; once approved it stands.
    approved = client.post(f"/api/reviews/{first['record_id']}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    second = upload(client, other, [item(client, meeting, ama)])[0]
    assert second["result"] == "already_checked_in"
    assert second["record_id"] == first["record_id"]
    assert count(client, AttendanceRecord) == 1


def test_the_server_decides_the_band_from_similarity_and_margin(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    ama, kofi = (make_member(client, admin, n, enrol=False) for n in ("Ama", "Kofi"))
    results = upload(
        client,
        kiosk,
        [
            item(client, meeting, ama, similarity=0.36, margin=None),
            item(client, meeting, kofi, similarity=0.9, margin=0.02),
        ],
    )
    assert [r["status"] for r in results] == ["pending_review", "pending_review"]
    # A probe in the accept band is still only the kiosk's word: never approved by itself
    # (approval from the server's own embedding of a crop: test_kiosk_face_evidence).
    accepted = upload(client, kiosk, [item(client, meeting, ama, similarity=0.8)])[0]
    assert (accepted["result"], accepted["status"]) == ("recorded", "pending_review")


def test_late_flag_follows_when_the_check_in_happened(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    # Began 30 minutes ago; late after 15 minutes.
    meeting = make_meeting(client, admin, started_minutes_ago=30)
    ama, kofi = (make_member(client, admin, n, enrol=False) for n in ("Ama", "Kofi"))
    early = (datetime.now(UTC) - timedelta(minutes=25)).isoformat()
    now = datetime.now(UTC).isoformat()
    # Queued offline 25 minutes ago, uploaded now: judged by when it happened.
    results = upload(
        client,
        kiosk,
        [
            item(client, meeting, ama, device_time=early),
            item(client, meeting, kofi, device_time=now),
        ],
        sent_at=now,
    )
    assert [r["late"] for r in results] == [False, True]


def test_clock_drift_is_flagged_and_corrected(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin, started_minutes_ago=10)
    ama, kofi = (make_member(client, admin, n, enrol=False) for n in ("Ama", "Kofi"))
    # The kiosk clock runs ten minutes ahead: "now" on it is past the late threshold.
    ahead = datetime.now(UTC) + timedelta(minutes=10)
    drifted = upload(
        client,
        kiosk,
        [item(client, meeting, ama, device_time=ahead.isoformat())],
        sent_at=ahead.isoformat(),
    )[0]
    upload(client, kiosk, [item(client, meeting, kofi)])
    with session_of(client) as session:
        flags = {
            str(r.member_id): (r.clock_drift_flag, r.late)
            for r in session.scalars(select(AttendanceRecord))
        }
    assert drifted["late"] is False
    assert flags == {ama: (True, False), kofi: (False, False)}


def test_a_check_in_made_during_the_meeting_survives_its_end(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    cancelled = make_meeting(client, admin)
    ama = make_member(client, admin, "Ama", enrol=False)
    during = datetime.now(UTC).isoformat()
    client.post(f"/api/meetings/{meeting}/end", headers=admin)
    client.post(f"/api/meetings/{cancelled}/cancel", headers=admin)
    queued = item(client, meeting, ama, device_time=during)
    after = item(
        client, meeting, ama, device_time=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    )
    sent = datetime.now(UTC).isoformat()
    results = upload(client, kiosk, [queued, item(client, cancelled, ama)], sent_at=sent)
    assert [r["result"] for r in results] == ["recorded", "refused"], [r["reason"] for r in results]
    assert results[1]["reason"] == "The meeting is cancelled; it is not taking check-ins."
    late_upload = upload(client, kiosk, [after], sent_at=after["device_time"])[0]
    assert late_upload["reason"] == "The meeting is ended; it is not taking check-ins."


def test_a_revoked_kiosk_cannot_upload(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    ama = make_member(client, admin, "Ama", enrol=False)
    client.post(f"/api/kiosks/{kiosk.id}/revoke", headers=admin)
    response = client.post(
        "/api/kiosk/checkins", json={"items": [item(client, meeting, ama)]}, headers=kiosk.headers
    )
    assert response.status_code == 401
    assert count(client, AttendanceRecord) == 0


def test_the_same_batch_from_several_threads_is_stored_once(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    members = [make_member(client, admin, f"Member {i}", enrol=False) for i in range(20)]
    # Review-band items too: nothing but the key stops those from being stored twice.
    batch = [
        item(client, meeting, m, similarity=0.7 if i % 2 else 0.35) for i, m in enumerate(members)
    ]
    start = threading.Barrier(6)
    answers: list[list[dict[str, Any]]] = []

    def send() -> None:
        start.wait()
        answers.append(upload(client, kiosk, batch))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 6
    assert all(answer == answers[0] for answer in answers)
    assert [r["result"] for r in answers[0]] == ["recorded"] * 20
    assert count(client, AttendanceRecord) == 20
    assert count(client, KioskCheckin) == 20


def test_one_batch_sent_twice_at_once_in_crossed_order_stores_each_check_in_once(
    client: TestClient,
) -> None:
    """Batches are one transaction each: the same check-ins sent over two connections at
    once, in opposite orders, collide on their keys (or deadlock), and the loser is run
    again item by item, finding the winner's results, without losing or doubling a thing.

    (Two kiosks no longer collide: without the server's own evidence neither is approved,
    and only approved records are one per person and meeting.)"""
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    members = [make_member(client, admin, f"Member {i}", enrol=False) for i in range(30)]
    batch = [item(client, meeting, m) for m in members]
    start = threading.Barrier(2)
    answers: dict[int, list[dict[str, Any]]] = {}

    def send(number: int) -> None:
        start.wait()
        answers[number] = upload(client, kiosk, batch if number == 0 else batch[::-1])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == [0, 1], "both connections were answered within 120 s"
    by_key = [{r["key"]: r for r in answers[n]} for n in range(2)]
    assert set(by_key[0]) == set(by_key[1]) == {i["key"] for i in batch}
    for key, first in by_key[0].items():
        assert first["result"] == "recorded", first
        # The loser answers with the winner's result: the same record, not a second one.
        assert by_key[1][key]["record_id"] == first["record_id"], (first, by_key[1][key])
    assert count(client, AttendanceRecord) == 30
    assert count(client, KioskCheckin) == 30


def test_recorded_check_ins_are_announced_once_to_live_listeners(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    ama = make_member(client, admin, "Ama", enrol=False)
    subscription = backend_of(client).store.subscribe(meeting_channel(uuid.UUID(meeting)))
    try:
        batch = [item(client, meeting, ama)]
        [result] = upload(client, kiosk, batch)
        message = subscription.get(timeout=5)
        assert message is not None
        event = LiveEvent.from_json(message)
        assert event.type == "attendance.recorded"
        assert event.record["id"] == result["record_id"]
        assert event.record["kiosk_id"] == kiosk.id
        upload(client, kiosk, batch)
        assert subscription.get(timeout=0.5) is None
    finally:
        subscription.close()


def test_impossible_device_times_are_refused_clearly(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    ama = make_member(client, admin, "Ama", enrol=False)
    far = item(client, meeting, ama, device_time="0001-01-01T00:00:00+00:00")
    overflow = item(client, meeting, ama, device_time="9999-12-31T23:59:59-23:59")
    results = upload(client, kiosk, [far, overflow])
    assert [r["reason"] for r in results] == [
        "invalid item: device_time: Value error, must be between the years 2000 and 2200",
        "invalid item: device_time: Value error, must be a real date and time",
    ]
    response = client.post(
        "/api/kiosk/checkins",
        json={"items": [item(client, meeting, ama)], "sent_at": "9999-12-31T23:59:59+00:00"},
        headers=kiosk.headers,
    )
    assert response.status_code == 422
    assert count(client, AttendanceRecord) == 0


def test_a_probe_embedding_travels_with_the_item_and_is_checked(client: TestClient) -> None:
    """`probe`: base64 of little-endian float32, part of the payload an idempotency key fixes."""

    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    meeting = make_meeting(client, admin)
    ama, kofi = (make_member(client, admin, n, enrol=False) for n in ("Ama", "Kofi"))
    probe = probe_for(client, ama, 0.7)
    sent = item(client, meeting, ama, probe=probe)
    first = upload(client, kiosk, [sent])[0]
    assert first["result"] == "recorded"
    assert upload(client, kiosk, [sent])[0] == first
    other = probe_for(client, ama, 0.7)
    assert upload(client, kiosk, [{**sent, "probe": other}])[0]["reason"] == (
        "idempotency key reused with a different payload"
    )
    bad = upload(
        client,
        kiosk,
        [
            item(client, meeting, kofi, probe="not base64!"),
            item(client, meeting, kofi, probe="AAAAAAA="),
        ],
    )
    assert [r["result"] for r in bad] == ["refused", "refused"]
    assert "base64" in bad[0]["reason"]
    assert "float32" in bad[1]["reason"]
    assert count(client, AttendanceRecord) == 1


def test_a_kiosk_cannot_record_for_a_meeting_it_does_not_serve(client: TestClient) -> None:
    admin = admin_headers(client)
    hall, door = pair_kiosk(client, admin, "Hall"), pair_kiosk(client, admin, "Door")
    meeting = make_meeting(client, admin, kiosk_ids=[hall.id])
    ama = make_member(client, admin, "Ama", enrol=False)
    refused = upload(client, door, [item(client, meeting, ama)])[0]
    assert refused["result"] == "refused"
    assert refused["reason"].startswith("this kiosk does not serve this meeting")
    assert upload(client, hall, [item(client, meeting, ama)])[0]["result"] == "recorded"
    assert count(client, AttendanceRecord) == 1
