"""Emailing a meeting's absent members: once each, audited, and refused without email."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from server.backend.main import create_app
from server.backend.services.absentees import NO_EMAIL
from server.backend.services.mailer import ConsoleMailer
from tests.server.attendance_utils import make_meeting, make_member, store_checkin
from tests.server.utils import FAST_ARGON2, FakeMailer, admin_headers

TEXT = "We missed you on Sunday. Is all well? Call the office if we can help."


def _meeting_with_absentees(client: TestClient, headers: dict[str, str]) -> str:
    make_member(client, headers, "Ama Away", email="ama@example.org")
    make_member(client, headers, "Kofi Away", phone="024 000 0002")
    came = make_member(client, headers, "Esi Here", email="esi@example.org")
    meeting = make_meeting(client, headers, title="Choir rehearsal", expected_ministries=["Choir"])
    store_checkin(client, meeting["id"], came["id"], status="approved", similarity=0.7)
    return str(meeting["id"])


def test_absent_members_are_emailed_once_and_each_message_is_audited(
    client: TestClient, mailer: FakeMailer
) -> None:
    headers = admin_headers(client)
    meeting = _meeting_with_absentees(client, headers)
    url = f"/api/reports/meetings/{meeting}/absentees/message"
    first = client.post(url, json={"text": TEXT}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "detail": "Emailed 1 absent person. No email for: Kofi Away; copy their phone "
        "numbers instead.",
        "sent": ["Ama Away"],
        "already": [],
        "without_email": ["Kofi Away"],
    }
    assert mailer.sent == [("ama@example.org", "We missed you at Choir rehearsal", TEXT)]

    again = client.post(url, json={"text": TEXT}, headers=headers)
    assert again.json()["sent"] == [] and again.json()["already"] == ["Ama Away"]
    assert len(mailer.sent) == 1  # nobody is messaged twice
    audit = client.get("/api/audit", params={"action": "absentee.messaged"}, headers=headers)
    assert audit.json()["count"] == 1


@pytest.mark.parametrize("body", [{"text": "   "}, {"text": "x" * 2001}, {"text": "a\x00b"}, {}])
def test_a_bad_message_is_refused_and_sends_nothing(
    client: TestClient, mailer: FakeMailer, body: dict[str, str]
) -> None:
    headers = admin_headers(client)
    meeting = _meeting_with_absentees(client, headers)
    url = f"/api/reports/meetings/{meeting}/absentees/message"
    assert client.post(url, json=body, headers=headers).status_code == 422
    assert mailer.sent == []


@pytest.fixture
def client_without_email(pg_settings: Settings) -> Iterator[TestClient]:
    app = create_app(pg_settings, mailer=ConsoleMailer(io.StringIO()), password_params=FAST_ARGON2)
    with TestClient(app) as made:
        yield made


def test_without_email_nothing_is_sent_and_the_answer_says_what_to_do(
    client_without_email: TestClient,
) -> None:
    client = client_without_email
    headers = admin_headers(client)
    meeting = _meeting_with_absentees(client, headers)
    url = f"/api/reports/meetings/{meeting}/absentees/message"
    refused = client.post(url, json={"text": TEXT}, headers=headers)
    assert refused.status_code == 409 and refused.json() == {"detail": NO_EMAIL}
    audit = client.get("/api/audit", params={"action": "absentee.messaged"}, headers=headers)
    assert audit.json()["count"] == 0
