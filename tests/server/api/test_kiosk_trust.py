"""A kiosk credential alone cannot declare someone present (issue 13, kiosk trust): the
server re-scores each face check-in's probe against the member's own templates."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from server.backend.models import AttendanceRecord
from tests.server.kiosk_utils import (
    make_meeting,
    make_member,
    member_templates,
    pair_kiosk,
    probe_for,
)
from tests.server.services.test_checkin_upload import item, upload
from tests.server.utils import admin_headers, session_of


def _setup(client: TestClient) -> tuple[dict[str, str], Any, str, str]:
    admin = admin_headers(client)
    return (
        admin,
        pair_kiosk(client, admin),
        make_meeting(client, admin),
        make_member(client, admin, "Ama Mensah"),
    )


def test_a_declared_similarity_does_not_check_in_a_stranger(client: TestClient) -> None:
    """The attack: a stolen credential recorded an approved check-in by declaring 0.95."""
    admin, kiosk, meeting, ama = _setup(client)
    stranger = probe_for(client, ama, 0.05)  # someone else's face
    [result] = upload(client, kiosk, [item(client, meeting, ama, similarity=0.95, probe=stranger)])
    assert result["result"] == "refused"
    assert "not similar enough" in result["reason"] and "on the server" in result["reason"]
    listed = client.get("/api/attendance", headers=admin).json()
    assert listed["count"] == 0


def test_a_face_check_in_without_a_probe_waits_for_an_admin(client: TestClient) -> None:
    _admin, kiosk, meeting, ama = _setup(client)
    [result] = upload(client, kiosk, [item(client, meeting, ama, similarity=0.95, probe=None)])
    assert (result["result"], result["status"]) == ("recorded", "pending_review")


def test_the_server_keeps_its_own_similarity_not_the_declared_one(client: TestClient) -> None:
    """A probe in the accept band is a hint: recorded with the server's number, for review."""
    _admin, kiosk, meeting, ama = _setup(client)
    probe = probe_for(client, ama, 0.6)
    [result] = upload(client, kiosk, [item(client, meeting, ama, similarity=0.99, probe=probe)])
    assert (result["result"], result["status"]) == ("recorded", "pending_review")
    with session_of(client) as session:
        record = session.get(AttendanceRecord, uuid.UUID(result["record_id"]))
        assert record is not None
        assert abs((record.similarity or 0) - 0.6) < 0.01


def test_a_replayed_template_is_refused_and_shown_to_admins(client: TestClient) -> None:
    admin, kiosk, meeting, ama = _setup(client)
    [template] = member_templates(client, ama)  # what a kiosk's gallery download holds
    replayed = base64.b64encode(np.asarray(template, "<f4").tobytes()).decode()
    [result] = upload(client, kiosk, [item(client, meeting, ama, similarity=0.7, probe=replayed)])
    assert result["result"] == "refused" and "replayed template" in result["reason"]
    # The int8 copy a kiosk keeps (`q8`: one scale per template) is caught as well.
    scale = float(np.abs(template).max()) / 127
    quantised = np.round(np.asarray(template) / scale) * scale
    copied = base64.b64encode(quantised.astype("<f4").tobytes()).decode()
    [again] = upload(client, kiosk, [item(client, meeting, ama, similarity=0.7, probe=copied)])
    assert again["result"] == "refused" and "replayed template" in again["reason"]
    listed = client.get("/api/attempts", headers=admin).json()["data"]
    assert {(a["channel"], a["outcome"]) for a in listed} == {("kiosk", "suspicious")}


def test_a_close_second_person_named_by_the_kiosk_is_measured_on_the_server(
    client: TestClient,
) -> None:
    admin, kiosk, meeting, ama = _setup(client)
    kofi = make_member(client, admin, "Kofi Boateng")
    # A probe half-way between Ama's and Kofi's faces: the kiosk declares a wide margin.
    own, other = member_templates(client, ama)[0], member_templates(client, kofi)[0]
    blend = (own + other) / np.linalg.norm(own + other)
    probe = base64.b64encode(blend.astype("<f4").tobytes()).decode()
    sent = item(
        client, meeting, ama, similarity=0.8, margin=0.4, second_member_id=kofi, probe=probe
    )
    [result] = upload(client, kiosk, [sent])
    assert (result["result"], result["status"]) == ("recorded", "pending_review")
