"""One meeting life cycle whose every refusal says what is possible: an ended meeting
can be reopened (with a later end time if needed) or copied to a new meeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.server.attendance_utils import make_meeting
from tests.server.utils import admin_headers


def test_an_ended_meeting_says_it_can_be_reopened_or_copied(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = make_meeting(any_client, headers)
    url = f"/api/meetings/{meeting['id']}"
    assert meeting["actions"] == ["end", "cancel", "copy"]
    ended = any_client.post(f"{url}/end", headers=headers).json()
    assert ended["actions"] == ["reopen", "copy"]
    assert ended["next_steps"] == "reopen it to take more check-ins, or copy it to a new meeting"
    for refused in (
        any_client.get(f"{url}/qr", headers=headers),
        any_client.post(f"{url}/start", headers=headers),
        any_client.patch(url, json={"title": "Again"}, headers=headers),
    ):
        assert refused.status_code == 409
        detail = refused.json()["detail"]
        assert detail.startswith("This meeting is ended, so it cannot be ")
        assert detail.endswith("reopen it to take more check-ins, or copy it to a new meeting.")
        assert "A ended" not in detail and "start it" not in detail


def test_a_reopened_meeting_shows_its_qr_code_again(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = make_meeting(any_client, headers)
    url = f"/api/meetings/{meeting['id']}"
    any_client.post(f"{url}/end", headers=headers)
    reopened = any_client.post(f"{url}/reopen", headers=headers)
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["ended_at"]) == ("active", None)
    assert any_client.get(f"{url}/qr", headers=headers).status_code == 200
    again = any_client.post(f"{url}/reopen", headers=headers)
    assert again.status_code == 409 and "it is taking check-ins" in again.json()["detail"]


def test_reopening_after_the_end_time_needs_a_later_one(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    now = datetime.now(UTC)
    meeting = make_meeting(
        any_client,
        headers,
        starts_at=(now - timedelta(hours=3)).isoformat(),
        ends_at=(now - timedelta(hours=1)).isoformat(),
    )
    url = f"/api/meetings/{meeting['id']}"
    any_client.post(f"{url}/end", headers=headers)
    refused = any_client.post(f"{url}/reopen", headers=headers)
    assert refused.status_code == 409 and "later ends_at" in refused.json()["detail"]
    later = (now + timedelta(minutes=30)).isoformat()
    reopened = any_client.post(f"{url}/reopen", json={"ends_at": later}, headers=headers)
    assert reopened.status_code == 200, reopened.text
    assert any_client.get(f"{url}/qr", headers=headers).status_code == 200


def test_a_cancelled_meeting_can_be_copied_to_next_week(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = make_meeting(
        any_client, headers, start=False, location_name="Hall", expected_ministries=["Choir"]
    )
    url = f"/api/meetings/{meeting['id']}"
    cancelled = any_client.post(f"{url}/cancel", headers=headers).json()
    assert (cancelled["actions"], cancelled["next_steps"]) == (["copy"], "copy it to a new meeting")
    copied = any_client.post(f"{url}/copy", headers=headers)
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    assert (copy["status"], copy["title"], copy["location_name"]) == (
        "scheduled",
        meeting["title"],
        "Hall",
    )
    assert copy["expected_ministries"] == ["Choir"] and copy["id"] != meeting["id"]
    week = datetime.fromisoformat(copy["starts_at"]) - datetime.fromisoformat(meeting["starts_at"])
    assert week == timedelta(days=7)
    start = datetime.now(UTC) + timedelta(days=1)
    chosen = any_client.post(
        f"{url}/copy",
        json={"title": "Make-up meeting", "starts_at": start.isoformat()},
        headers=headers,
    ).json()
    length = datetime.fromisoformat(chosen["ends_at"]) - datetime.fromisoformat(chosen["starts_at"])
    assert chosen["title"] == "Make-up meeting" and length == timedelta(hours=2)
