"""Check-ins a kiosk sent that the server refused for good are kept for admins to see."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.server.kiosk_utils import make_meeting, make_member, pair_kiosk
from tests.server.services.test_checkin_upload import item, upload
from tests.server.utils import admin_headers


def test_every_final_refusal_is_kept_with_its_kiosk_and_reason(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin, name="Main hall")
    meeting = make_meeting(any_client, admin, title="Sonta Heads")
    ama = make_member(any_client, admin, "Ama Mensah", enrol=False)
    gone_meeting = str(uuid.uuid4())
    good = item(any_client, meeting, ama)
    batch = [
        good,
        item(any_client, gone_meeting, ama),
        {"key": "broken-1", "meeting_id": meeting},
        "not an object",
        item(any_client, meeting, ama, similarity=0.12),
    ]
    results = upload(any_client, kiosk, batch)
    assert [r["result"] for r in results] == ["recorded"] + ["refused"] * 4
    # A reused key is a refusal too; resending a refused item keeps nothing twice.
    upload(any_client, kiosk, [{**good, "member_id": str(uuid.uuid4())}, batch[1]])

    response = any_client.get("/api/kiosk-refusals", headers=admin)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == 5
    by_reason = {row["reason"]: row for row in page["data"]}
    assert set(by_reason) == {
        "no such meeting",
        "invalid item: member_id: Field required; method: Field required; similarity: "
        "Field required; device_time: Field required; model_id: Field required",
        "invalid item: an item must be a JSON object",
        "idempotency key reused with a different payload",
        next(r["reason"] for r in results if "not similar enough" in str(r["reason"])),
    }
    gone = by_reason["no such meeting"]
    assert gone["kiosk_name"] == "Main hall" and gone["kiosk_id"] == kiosk.id
    assert (gone["meeting_id"], gone["meeting_title"]) == (gone_meeting, "")
    assert (gone["member_id"], gone["member_name"]) == (ama, "Ama Mensah")
    assert gone["key"] == batch[1]["key"] and gone["method"] == "face"
    assert gone["device_time"] is not None and gone["similarity"] == 0.71
    weak = next(row for row in page["data"] if "not similar enough" in row["reason"])
    assert weak["meeting_title"] == "Sonta Heads"
    assert by_reason["invalid item: an item must be a JSON object"]["key"] == ""

    mine = any_client.get(f"/api/kiosk-refusals?kiosk_id={kiosk.id}&limit=2", headers=admin)
    assert mine.json()["count"] == 5 and len(mine.json()["data"]) == 2
    other = any_client.get(f"/api/kiosk-refusals?kiosk_id={uuid.uuid4()}", headers=admin)
    assert other.json() == {"data": [], "count": 0}
    assert any_client.get("/api/kiosk-refusals").status_code == 401
