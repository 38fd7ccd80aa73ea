"""Members: CRUD, search and filters, consent, all-or-nothing CSV import, audit."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from server.backend.models import Member
from tests.server.utils import admin_headers, backend_of


def _member(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, object]:
    body = {"full_name": "Ama Mensah", "ministry": "Ushering", **fields}
    response = client.post("/api/members", json=body, headers=headers)
    assert response.status_code == 201, response.text
    member: dict[str, object] = response.json()
    return member


def _csv(client: TestClient, headers: dict[str, str], text: str) -> object:
    files = {"file": ("members.csv", text.encode(), "text/csv")}
    return client.post("/api/members/import", files=files, headers=headers)


def test_members_need_a_signed_in_admin(any_client: TestClient) -> None:
    assert any_client.get("/api/members").status_code == 401


def test_ministries_lists_those_of_active_members_once_each_by_name(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    for name, ministry in (("A", "ushering"), ("B", "Choir"), ("C", "Choir"), ("D", "Media")):
        _member(any_client, headers, full_name=name, ministry=ministry)
    gone = _member(any_client, headers, full_name="E", ministry="Elders")
    deactivate = f"/api/members/{gone['id']}/deactivate"
    assert any_client.post(deactivate, headers=headers).status_code == 200
    answer = any_client.get("/api/members/ministries", headers=headers)
    assert answer.json() == {"ministries": ["Choir", "Media", "ushering"]}
    assert any_client.get("/api/members/ministries").status_code == 401


def test_create_read_update_deactivate_delete(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member = _member(any_client, headers, email="Ama@Example.org", phone="+233 20 000 0000")
    assert member["email"] == "ama@example.org"
    assert member["status"] == "active"
    url = f"/api/members/{member['id']}"
    assert any_client.get(url, headers=headers).json()["full_name"] == "Ama Mensah"
    updated = any_client.patch(url, json={"ministry": "Choir"}, headers=headers).json()
    assert updated["ministry"] == "Choir"
    assert any_client.post(f"{url}/deactivate", headers=headers).json()["status"] == "inactive"
    inactive = any_client.get("/api/members", params={"status": "inactive"}, headers=headers).json()
    assert [m["id"] for m in inactive["data"]] == [member["id"]]
    assert (
        any_client.get("/api/members", params={"status": "active"}, headers=headers).json()["count"]
        == 0
    )
    assert any_client.delete(url, headers=headers).status_code == 204
    assert any_client.get(url, headers=headers).status_code == 404


def test_search_by_name_and_filter_by_ministry(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    _member(any_client, headers, full_name="Kofi Boateng", ministry="Choir")
    _member(any_client, headers, full_name="Kojo Boateng", ministry="Ushering")
    _member(any_client, headers, full_name="Esi Owusu", ministry="Choir")
    found = any_client.get("/api/members", params={"q": "boat"}, headers=headers).json()
    assert sorted(m["full_name"] for m in found["data"]) == ["Kofi Boateng", "Kojo Boateng"]
    choir = any_client.get("/api/members", params={"ministry": "choir"}, headers=headers).json()
    assert choir["count"] == 2
    both = any_client.get(
        "/api/members", params={"q": "boat", "ministry": "Choir"}, headers=headers
    )
    assert [m["full_name"] for m in both.json()["data"]] == ["Kofi Boateng"]


def test_search_treats_wildcards_and_quotes_literally(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    _member(any_client, headers, full_name="Kofi Boateng")
    for tricky in ("%", "_", "' OR '1'='1", "\\", "'; DROP TABLE members; --"):
        response = any_client.get("/api/members", params={"q": tricky}, headers=headers)
        assert response.status_code == 200, tricky
        assert response.json()["count"] == 0, tricky
    assert any_client.get("/api/members", headers=headers).json()["count"] == 1


def test_duplicate_email_is_a_conflict(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    _member(any_client, headers, email="kofi@example.org")
    response = any_client.post(
        "/api/members",
        json={"full_name": "Other", "ministry": "Choir", "email": "KOFI@example.org"},
        headers=headers,
    )
    assert response.status_code == 409


def test_consent_is_recorded_with_when_and_by_whom(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    me = any_client.get("/api/auth/me", headers=headers).json()
    member = _member(any_client, headers)
    given = any_client.put(
        f"/api/members/{member['id']}/consent", json={"given": True}, headers=headers
    ).json()
    assert given["consent_given"] is True
    assert given["consent_changed_by_id"] == me["id"]
    assert given["consent_changed_at"] is not None
    withdrawn = any_client.put(
        f"/api/members/{member['id']}/consent", json={"given": False}, headers=headers
    )
    assert withdrawn.json()["consent_given"] is False


def test_csv_import_creates_every_row(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    text = "Name,Sonta,Email,Phone\nAma Mensah,Ushering,ama@example.org,024\nKofi,Choir,,\n"
    response = _csv(any_client, headers, text)
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 2
    assert any_client.get("/api/members", headers=headers).json()["count"] == 2


def test_csv_import_with_a_bad_row_imports_nothing_and_reports_every_bad_row(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    _member(any_client, headers, email="taken@example.org")
    text = (
        "full_name,ministry,email\n"
        "Good Person,Choir,good@example.org\n"
        ",Choir,\n"  # row 3: no name
        "Bad Email,Choir,not-an-email\n"  # row 4
        "Dup,Choir,taken@example.org\n"  # row 5: exists already
        "Twice,Choir,good@example.org\n"  # row 6: repeats row 2
    )
    response = _csv(any_client, headers, text)
    assert response.status_code == 422
    report = response.json()["detail"]
    assert [e["row"] for e in report["errors"]] == [3, 4, 5, 6]
    assert "row 2" in report["errors"][3]["errors"][0]
    assert any_client.get("/api/members", headers=headers).json()["count"] == 1


def test_csv_import_refuses_files_it_cannot_read(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    assert _csv(any_client, headers, "email\nx@example.org\n").status_code == 422  # no name column
    binary = {"file": ("x.csv", b"\xff\xfe\x00\x01garbage", "text/csv")}
    assert any_client.post("/api/members/import", files=binary, headers=headers).status_code == 422
    assert _csv(any_client, headers, "full_name,ministry\n").status_code == 422  # no rows
    twice = _csv(any_client, headers, "Name,ministry,full_name\nA,Choir,B\n")
    assert twice.status_code == 422
    assert "full_name" in twice.json()["detail"]
    assert any_client.get("/api/members", headers=headers).json()["count"] == 0


def test_member_changes_are_in_the_audit_log(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member = _member(any_client, headers)
    any_client.patch(
        f"/api/members/{member['id']}", json={"notes": "leads the choir"}, headers=headers
    )
    any_client.put(f"/api/members/{member['id']}/consent", json={"given": True}, headers=headers)
    any_client.delete(f"/api/members/{member['id']}", headers=headers)
    entries = any_client.get(
        "/api/audit", params={"target_id": member["id"]}, headers=headers
    ).json()
    actions = [e["action"] for e in entries["data"]]
    assert actions == ["member.delete", "member.consent_given", "member.update", "member.create"]
    assert all(e["actor_email"].startswith("admin-") for e in entries["data"])


def test_search_pages_carry_the_total(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    for number in range(5):
        _member(any_client, headers, full_name=f"Member {number}")
    page = any_client.get("/api/members", params={"skip": 3, "limit": 1}, headers=headers).json()
    assert [m["full_name"] for m in page["data"]] == ["Member 3"]
    assert page["count"] == 5
    beyond = any_client.get("/api/members", params={"skip": 10}, headers=headers).json()
    assert (beyond["data"], beyond["count"], beyond["has_more"]) == ([], 5, False)
    none = any_client.get("/api/members", params={"q": "nobody"}, headers=headers).json()
    assert (none["data"], none["count"], none["count_capped"]) == ([], 0, False)


def test_an_address_stored_before_todays_rules_still_lists(any_client: TestClient) -> None:
    """Addresses are checked on the way in; one already stored that today's rules refuse
    (a special-use domain) is shown as it is, not turned into a failed list."""
    headers = admin_headers(any_client)
    with backend_of(any_client).sessions() as session:
        session.add(
            Member(
                full_name="Old Record",
                ministry="Choir",
                email="old@church.local",
                member_code="OLD001",
            )
        )
        session.commit()
    found = any_client.get("/api/members", params={"q": "old record"}, headers=headers)
    assert found.status_code == 200, found.text
    assert [m["email"] for m in found.json()["data"]] == ["old@church.local"]


def test_search_says_whose_face_is_enrolled_with_the_recogniser_in_use(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    made = [
        any_client.post(
            "/api/members", json={"full_name": name, "ministry": "Choir"}, headers=headers
        ).json()
        for name in ("Enrolled Esi", "Waiting Wale")
    ]
    vector = np.random.default_rng(7).normal(size=512)
    embedding = [float(x) for x in vector / np.linalg.norm(vector)]
    model_id = backend_of(any_client).face_model.model_id
    consent = {"given": True}
    any_client.put(f"/api/members/{made[0]['id']}/consent", json=consent, headers=headers)
    saved = any_client.post(
        f"/api/members/{made[0]['id']}/templates",
        json={"embedding": embedding, "model_id": model_id},
        headers=headers,
    )
    assert saved.status_code == 201, saved.text

    page = any_client.get("/api/members", params={"ministry": "Choir"}, headers=headers).json()
    assert {m["full_name"]: m["face_enrolled"] for m in page["data"]} == {
        "Enrolled Esi": True,
        "Waiting Wale": False,
    }
    # Erased, the face no longer counts.
    erased = any_client.delete(f"/api/members/{made[0]['id']}/templates", headers=headers)
    assert erased.status_code in (200, 204), erased.text
    page = any_client.get("/api/members", params={"q": "Esi"}, headers=headers).json()
    assert [m["face_enrolled"] for m in page["data"]] == [False]
