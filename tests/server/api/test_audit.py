"""Every admin action lands in the audit log, in the same transaction as the action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from fastapi.testclient import TestClient

from tests.server.utils import FakeMailer, backend_of, bearer, login, make_admin


def _actions(client: TestClient, headers: dict[str, str]) -> list[str]:
    page = client.get("/api/audit", params={"limit": 500}, headers=headers).json()
    return [entry["action"] for entry in page["data"]]


def test_every_admin_action_is_audited(client: TestClient, mailer: FakeMailer) -> None:
    boss = make_admin(client, role="super_admin")
    h = bearer(login(client, boss.email)["access_token"])
    helper = client.post("/api/admins", json={"email": "helper@example.org"}, headers=h).json()
    client.patch(f"/api/admins/{helper['id']}", json={"full_name": "Helper"}, headers=h)
    client.post(f"/api/admins/{helper['id']}/password-link", headers=h)
    client.post(
        "/api/auth/password/set",
        json={"token": mailer.last_code("helper@example.org"), "password": "quiet harbour 1"},
    )

    member = client.post(
        "/api/members", json={"full_name": "Ama", "ministry": "Choir"}, headers=h
    ).json()
    url = f"/api/members/{member['id']}"
    client.patch(url, json={"phone": "024"}, headers=h)
    client.put(f"{url}/consent", json={"given": True}, headers=h)
    vector = np.random.default_rng(1).normal(size=512)
    embedding = [float(x) for x in vector / np.linalg.norm(vector)]
    model_id = backend_of(client).face_model.model_id
    template = client.post(
        f"{url}/templates", json={"embedding": embedding, "model_id": model_id}, headers=h
    ).json()
    client.delete(f"{url}/templates/{template['id']}", headers=h)
    client.delete(f"{url}/templates", headers=h)
    client.post(f"{url}/deactivate", headers=h)
    files = {"file": ("m.csv", b"full_name,ministry\nKofi,Choir\n", "text/csv")}
    client.post("/api/members/import", files=files, headers=h)
    client.put(f"{url}/consent", json={"given": False}, headers=h)
    client.delete(url, headers=h)

    start = datetime.now(UTC)
    body = {
        "title": "M",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "open_to_everyone": True,
    }
    meetings = [client.post("/api/meetings", json=body, headers=h).json() for _ in range(2)]
    client.patch(f"/api/meetings/{meetings[0]['id']}", json={"title": "Renamed"}, headers=h)
    client.post(f"/api/meetings/{meetings[0]['id']}/start", headers=h)
    client.post(f"/api/meetings/{meetings[0]['id']}/end", headers=h)
    client.post(f"/api/meetings/{meetings[1]['id']}/cancel", headers=h)
    client.post("/api/auth/logout", headers=h)

    h2 = bearer(login(client, boss.email)["access_token"])
    assert set(_actions(client, h2)) == {
        "auth.login",
        "auth.logout",
        "auth.password_set",
        "admin.create",
        "admin.update",
        "admin.password_link",
        "member.create",
        "member.update",
        "member.consent_given",
        "member.consent_withdrawn",
        "template.enrol",
        "template.delete",
        "template.erase_all",
        "member.deactivate",
        "member.import",
        "member.delete",
        "meeting.create",
        "meeting.update",
        "meeting.start",
        "meeting.end",
        "meeting.cancel",
    }


def test_a_refused_action_leaves_no_audit_entry(client: TestClient) -> None:
    h = bearer(login(client, make_admin(client).email)["access_token"])
    before = _actions(client, h)
    files = {"file": ("m.csv", b"full_name,ministry\n,Choir\n", "text/csv")}
    assert client.post("/api/members/import", files=files, headers=h).status_code == 422
    assert (
        client.post(
            "/api/members", json={"full_name": "", "ministry": "Choir"}, headers=h
        ).status_code
        == 422
    )
    assert _actions(client, h) == before
