"""A copied kiosk is caught the first time a spent device secret comes back (issue 25).

Run as the copy would: a real backend on loopback HTTP; the copy renews with the
secret it copied, then the real kiosk renews with the same, now spent, secret. The
kiosk is revoked at once (both copies lose access), the admins are emailed, and the
real kiosk pairs again with a new code.
"""

from __future__ import annotations

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.main import create_app
from tests.server.live import serve
from tests.server.utils import (
    FAST_ARGON2,
    FakeMailer,
    admin_in_database,
    bearer,
    password_login,
)

pytestmark = [pytest.mark.network]


def _pair(api: httpx.Client, admin: dict[str, str], name: str) -> dict[str, str]:
    code = api.post("/api/kiosks/pairing-codes", json={"name": name}, headers=admin)
    assert code.status_code == 201, code.text
    paired = api.post("/api/kiosks/pair", json={"code": code.json()["code"]})
    assert paired.status_code == 201, paired.text
    return {
        "id": paired.json()["kiosk"]["id"],
        "credential": paired.json()["credential"],
        "secret": paired.json()["device_secret"],
    }


def _renew(api: httpx.Client, kiosk: dict[str, str], secret: str) -> httpx.Response:
    body = {"kiosk_id": kiosk["id"], "device_secret": secret}
    return api.post("/api/kiosk/credential", json=body)


def test_a_copy_renewing_first_revokes_the_kiosk_and_tells_the_admins(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    mailer = FakeMailer()
    email = admin_in_database(server_env, "owner")
    app = create_app(pg_settings, mailer=mailer, password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        real = _pair(api, admin, "Hall")
        stolen_secret = real["secret"]  # the keyring copied off the kiosk PC
        copy = _renew(api, real, stolen_secret)
        assert copy.status_code == 200, copy.text
        caught = _renew(api, real, stolen_secret)  # the real kiosk's daily renewal
        assert caught.status_code == 401
        assert "copy of the kiosk" in caught.json()["detail"]
        heartbeat = {
            "app_version": "1",
            "model_id": "x",
            "gallery_version": 0,
            "queue_depth": 0,
            "camera_state": "ok",
            "device_time": "2026-01-01T00:00:00+00:00",
        }
        for credential in (copy.json()["credential"], real["credential"]):
            refused = api.post("/api/kiosk/heartbeat", json=heartbeat, headers=bearer(credential))
            assert refused.status_code == 401, refused.text
        assert _renew(api, real, copy.json()["device_secret"]).status_code == 401
        shown = api.get(f"/api/kiosks/{real['id']}", headers=admin).json()
        assert shown["health"] == "revoked" and shown["revoked_at"] is not None
        warned = [m for m in mailer.sent if "may have been copied" in m[1]]
        assert email in {to for to, _subject, _text in warned}
        assert "pair the real kiosk again" in warned[0][2]
        again = _pair(api, admin, "Hall")  # the real kiosk, paired anew
        assert _renew(api, again, again["secret"]).status_code == 200
