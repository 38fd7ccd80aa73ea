"""A production server refuses kiosk pairing over plain http unless allowed (issue 25).

Over http the code, the kiosk's credential, its device secret and then the gallery
travel in clear. A production backend served on loopback http refuses the pairing and
voids the code (it was seen); through a trusted TLS proxy (X-Forwarded-Proto: https)
pairing works, and ALLOW_HTTP_PAIRING=true allows http for a kiosk on the venue's LAN.
"""

from __future__ import annotations

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.main import create_app
from server.backend.services import kiosks
from tests.server.live import serve
from tests.server.utils import (
    FAST_ARGON2,
    FakeMailer,
    admin_in_database,
    bearer,
    password_login,
)

pytestmark = [pytest.mark.network]


def _code(api: httpx.Client, admin: dict[str, str], **headers: str) -> str:
    made = api.post("/api/kiosks/pairing-codes", json={"name": "Hall"}, headers=admin | headers)
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def test_production_refuses_http_pairing_and_voids_the_code(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    email = admin_in_database(server_env, "tls")
    settings = pg_settings.model_copy(
        update={"app_env": "production", "trusted_proxies": "127.0.0.1"}
    )
    app = create_app(settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    tls = {"X-Forwarded-Proto": "https"}
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        code = _code(api, admin)
        refused = api.post("/api/kiosks/pair", json={"code": code})
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == kiosks.HTTP_PAIRING_REFUSED
        assert "credential" not in refused.json() and "device_secret" not in refused.json()
        again = api.post("/api/kiosks/pair", json={"code": code}, headers=tls)
        assert again.status_code == 401, "a code seen in clear must be void"
        paired = api.post("/api/kiosks/pair", json={"code": _code(api, admin)}, headers=tls)
        assert paired.status_code == 201, paired.text


def test_allow_http_pairing_lets_a_lan_kiosk_pair_over_http(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    email = admin_in_database(server_env, "lan")
    settings = pg_settings.model_copy(update={"app_env": "production", "allow_http_pairing": True})
    app = create_app(settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        paired = api.post("/api/kiosks/pair", json={"code": _code(api, admin)})
        assert paired.status_code == 201, paired.text
