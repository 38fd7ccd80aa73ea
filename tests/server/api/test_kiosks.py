"""Kiosk devices: one-time pairing, credentials scoped to kiosks, revocation, heartbeat."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from server.backend.core.security.kiosk_tokens import (
    BOUND_CREDENTIAL_TTL,
    CREDENTIAL_TTL,
    KioskCredentials,
)
from server.backend.models import AuditEntry, Kiosk
from server.backend.services import kiosks
from tests.server.kiosk_utils import model_id, pair_kiosk
from tests.server.utils import admin_headers, backend_of, bearer, session_of


def _heartbeat(client: TestClient, headers: dict[str, str], **fields: object) -> object:
    body = {
        "app_version": "1.4.0",
        "model_id": model_id(client),
        "gallery_version": 3,
        "queue_depth": 2,
        "camera_state": "ok",
        "device_time": datetime.now(UTC).isoformat(),
        **fields,
    }
    return client.post("/api/kiosk/heartbeat", json=body, headers=headers)


def _audit_actions(client: TestClient, admin: dict[str, str]) -> list[str]:
    entries = client.get("/api/audit", headers=admin).json()["data"]
    return [e["action"] for e in entries]


def test_a_pairing_code_pairs_one_kiosk_once(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    code = any_client.post("/api/kiosks/pairing-codes", json={"name": "Hall"}, headers=admin)
    assert code.status_code == 201
    text = code.json()["code"]
    assert len(text.replace("-", "")) >= 8
    # Typed by hand: lower case and without dashes still works.
    paired = any_client.post("/api/kiosks/pair", json={"code": text.replace("-", "").lower()})
    assert paired.status_code == 201, paired.text
    body = paired.json()
    assert body["kiosk"]["name"] == "Hall"
    assert body["model_id"] == model_id(any_client)
    again = any_client.post("/api/kiosks/pair", json={"code": text})
    assert again.status_code == 401
    assert "already used" in again.json()["detail"]
    listed = any_client.get("/api/kiosks", headers=admin).json()
    assert [(k["name"], k["health"]) for k in listed] == [("Hall", "never_seen")]
    assert {"kiosk.pairing_code", "kiosk.pair"} <= set(_audit_actions(any_client, admin))


def test_an_expired_or_unknown_pairing_code_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_headers(client)
    monkeypatch.setattr(kiosks, "PAIRING_CODE_TTL", 1)
    code = client.post("/api/kiosks/pairing-codes", json={"name": "Hall"}, headers=admin)
    time.sleep(1.5)
    assert client.post("/api/kiosks/pair", json={"code": code.json()["code"]}).status_code == 401
    assert client.post("/api/kiosks/pair", json={"code": "AAAA-BBBB-CCCC"}).status_code == 401
    assert client.get("/api/kiosks", headers=admin).json() == []


def test_only_admins_create_codes_or_pair_directly(client: TestClient) -> None:
    assert client.post("/api/kiosks/pairing-codes", json={"name": "X"}).status_code == 401
    assert client.post("/api/kiosks", json={"name": "X"}).status_code == 401
    admin = admin_headers(client)
    direct = client.post("/api/kiosks", json={"name": "Lobby"}, headers=admin)
    assert direct.status_code == 201
    assert _heartbeat(client, bearer(direct.json()["credential"])).status_code == 200


def test_a_revoked_kiosk_is_refused_at_once(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    assert _heartbeat(client, kiosk.headers).status_code == 200
    revoked = client.post(f"/api/kiosks/{kiosk.id}/revoke", headers=admin)
    assert revoked.json()["health"] == "revoked"
    refused = _heartbeat(client, kiosk.headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert client.get("/api/kiosk/badge-keys", headers=kiosk.headers).status_code == 401
    # Revoking again changes nothing; revoked kiosks are hidden unless asked for.
    assert client.post(f"/api/kiosks/{kiosk.id}/revoke", headers=admin).status_code == 200
    assert _audit_actions(client, admin).count("kiosk.revoke") == 1
    assert client.get("/api/kiosks", headers=admin).json() == []
    listed = client.get("/api/kiosks", params={"include_revoked": True}, headers=admin).json()
    assert [k["id"] for k in listed] == [kiosk.id]


def test_kiosk_and_admin_credentials_do_not_stand_in_for_each_other(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    assert _heartbeat(client, admin).status_code == 401
    assert client.get("/api/kiosks", headers=kiosk.headers).status_code == 401
    assert client.get("/api/members", headers=kiosk.headers).status_code == 401


def test_forged_and_expired_kiosk_credentials_are_refused(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    forged = KioskCredentials("another-secret-" + "x" * 32).issue(uuid.UUID(kiosk.id))
    assert _heartbeat(client, bearer(forged)).status_code == 401
    secret = backend_of(client).settings.jwt_access_secret
    assert secret
    old = KioskCredentials(secret, clock=lambda: time.time() - CREDENTIAL_TTL - 60)
    expired = _heartbeat(client, bearer(old.issue(uuid.UUID(kiosk.id))))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    unknown = KioskCredentials(secret).issue(uuid.uuid4())
    assert _heartbeat(client, bearer(unknown)).status_code == 401


def test_heartbeat_records_health_and_measures_clock_drift(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    reply = _heartbeat(client, kiosk.headers, device_time=ahead.isoformat(), model_id="other@1")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert 295 < body["clock_drift_s"] < 305
    assert body["clock_drift_flag"] is True
    assert body["model_matches"] is False
    assert body["credential"] is None
    shown = client.get(f"/api/kiosks/{kiosk.id}", headers=admin).json()
    assert shown["health"] == "online"
    assert shown["app_version"] == "1.4.0"
    assert (shown["queue_depth"], shown["gallery_version"], shown["camera_state"]) == (2, 3, "ok")
    assert shown["model_matches"] is False
    assert shown["last_seen_at"] is not None
    in_time = _heartbeat(client, kiosk.headers).json()
    assert in_time["clock_drift_flag"] is False
    assert in_time["model_matches"] is True


def test_heartbeat_renews_a_credential_near_its_expiry(client: TestClient) -> None:
    """For kiosks paired before device secrets; bound ones renew at /credential."""
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    with session_of(client) as session:
        session.get(Kiosk, uuid.UUID(kiosk.id)).secret_hash = None  # type: ignore[union-attr]
        session.commit()
    secret = backend_of(client).settings.jwt_access_secret
    assert secret
    # Issued long enough ago that ten days are left.
    issued = KioskCredentials(secret, clock=lambda: time.time() - CREDENTIAL_TTL + 10 * 86400)
    reply = _heartbeat(client, bearer(issued.issue(uuid.UUID(kiosk.id)))).json()
    assert reply["credential"]
    assert _heartbeat(client, bearer(reply["credential"])).status_code == 200


def test_rename_is_audited_and_validated(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin, name="Old")
    renamed = client.patch(f"/api/kiosks/{kiosk.id}", json={"name": " New "}, headers=admin)
    assert renamed.json()["name"] == "New"
    assert (
        client.patch(f"/api/kiosks/{kiosk.id}", json={"name": ""}, headers=admin).status_code == 422
    )
    assert (
        client.patch(f"/api/kiosks/{uuid.uuid4()}", json={"name": "X"}, headers=admin).status_code
        == 404
    )
    entry = client.get("/api/audit", params={"action": "kiosk.rename"}, headers=admin).json()
    assert entry["data"][0]["details"] == {"name": "New", "old_name": "Old"}


def test_guessing_pairing_codes_is_throttled(client: TestClient) -> None:
    codes = [f"GUES-SCOD-E{i:03d}" for i in range(kiosks.PAIR_PER_CLIENT.attempts + 1)]
    answers = [client.post("/api/kiosks/pair", json={"code": c}).status_code for c in codes]
    assert answers[:-1] == [401] * kiosks.PAIR_PER_CLIENT.attempts
    assert answers[-1] == 429


def _pair_bound(client: TestClient) -> dict[str, object]:
    admin = admin_headers(client)
    code = client.post("/api/kiosks/pairing-codes", json={"name": "Hall"}, headers=admin).json()
    paired = client.post("/api/kiosks/pair", json={"code": code["code"]})
    assert paired.status_code == 201, paired.text
    body: dict[str, object] = paired.json()
    return body


def _renew(client: TestClient, kiosk_id: object, secret: object) -> object:
    return client.post(
        "/api/kiosk/credential", json={"kiosk_id": kiosk_id, "device_secret": secret}
    )


def test_a_bound_credential_lives_a_day_and_renews_with_a_rotating_secret(
    client: TestClient,
) -> None:
    paired = _pair_bound(client)
    kiosk_id = paired["kiosk"]["id"]
    secret = backend_of(client).settings.jwt_access_secret
    assert secret
    claims = KioskCredentials(secret).verify(str(paired["credential"]))
    assert claims.expires_at - time.time() == pytest.approx(BOUND_CREDENTIAL_TTL, abs=60)
    # Heartbeats do not hand out credentials to bound kiosks.
    assert _heartbeat(client, bearer(str(paired["credential"]))).json()["credential"] is None
    renewed = _renew(client, kiosk_id, paired["device_secret"]).json()
    assert renewed["device_secret"] != paired["device_secret"]
    assert _heartbeat(client, bearer(renewed["credential"])).status_code == 200
    again = _renew(client, kiosk_id, renewed["device_secret"])
    assert again.status_code == 200
    wrong = _renew(client, kiosk_id, "x" * 43)
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["detail"]


def test_a_spent_secret_presented_again_revokes_at_once(client: TestClient) -> None:
    """A copied kiosk: the copy renews first, then the original uses the spent secret."""
    paired = _pair_bound(client)
    kiosk_id = paired["kiosk"]["id"]
    copy = _renew(client, kiosk_id, paired["device_secret"]).json()
    original = _renew(client, kiosk_id, paired["device_secret"])
    assert original.status_code == 401
    assert "copy of the kiosk" in original.json()["detail"]
    assert _heartbeat(client, bearer(copy["credential"])).status_code == 401
    assert _renew(client, kiosk_id, copy["device_secret"]).status_code == 401
    with session_of(client) as session:
        actions = [a.action for a in session.query(AuditEntry).filter_by(target_id=str(kiosk_id))]
    assert "kiosk.revoke" in actions
