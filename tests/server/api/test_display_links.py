"""Display links are listed and revoked one by one (issue 25), over real HTTP.

Before, a link could only be stopped by rotating QR_SECRET, which stopped every link.
Now each link is a row its key names: admins list them (meeting, made, expires, last
used) and revoke one, and its screen is refused on its very next fetch while the other
links go on. Everything here is asked as an outsider would, over loopback HTTP.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.backend.core.config import Settings
from server.backend.core.security.display import DisplaySigner
from server.backend.main import create_app
from server.backend.services.presenter import DISPLAY_MAX_LIFE
from tests.server.live import serve
from tests.server.utils import FAST_ARGON2, FakeMailer, admin_in_database, bearer, password_login

pytestmark = [pytest.mark.network]


def a_meeting(api: httpx.Client, admin: dict[str, str], title: str) -> str:
    begins = datetime.now(UTC) - timedelta(minutes=5)
    made = api.post(
        "/api/meetings",
        json={
            "title": title,
            "starts_at": begins.isoformat(),
            "ends_at": (begins + timedelta(hours=2)).isoformat(),
            "open_to_everyone": True,
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def a_link(api: httpx.Client, admin: dict[str, str], meeting: str) -> tuple[str, str]:
    """(id, key) of a new display link for `meeting`."""
    made = api.post(f"/api/meetings/{meeting}/display-link", headers=admin)
    assert made.status_code == 200, made.text
    return made.json()["id"], made.json()["url"].split("#key=", 1)[1]


def shown(api: httpx.Client, meeting: str, key: str) -> httpx.Response:
    return api.get(f"/api/present/{meeting}", headers={"X-Display-Key": key})


def test_each_link_is_listed_and_a_revoked_one_is_refused_at_once(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    email = admin_in_database(server_env, "links")
    app = create_app(pg_settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        hall, annex = a_meeting(api, admin, "Hall <b>"), a_meeting(api, admin, "Annex")
        (front, front_key), (side, side_key) = a_link(api, admin, hall), a_link(api, admin, hall)
        other, other_key = a_link(api, admin, annex)
        assert shown(api, hall, front_key).status_code == 200

        listed = api.get("/api/display-links", headers=admin)
        assert listed.status_code == 200, listed.text
        rows = {row["id"]: row for row in listed.json()}
        assert set(rows) == {front, side, other}
        assert (rows[front]["meeting_id"], rows[front]["meeting_title"]) == (hall, "Hall <b>")
        assert rows[front]["created_by"] == email
        assert rows[front]["last_used_at"] is not None and rows[side]["last_used_at"] is None
        made = datetime.fromisoformat(rows[front]["created_at"])
        assert datetime.fromisoformat(rows[front]["expires_at"]) <= made + DISPLAY_MAX_LIFE
        one = api.get("/api/display-links", params={"meeting_id": annex}, headers=admin)
        assert [row["id"] for row in one.json()] == [other]

        assert api.delete(f"/api/display-links/{front}", headers=admin).status_code == 204
        refused = shown(api, hall, front_key)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert shown(api, hall, side_key).status_code == 200
        assert shown(api, annex, other_key).status_code == 200
        listed = api.get("/api/display-links", headers=admin).json()
        assert {row["id"] for row in listed} == {side, other}
        assert api.delete(f"/api/display-links/{front}", headers=admin).status_code == 204
        missing = api.delete(f"/api/display-links/{uuid.uuid4()}", headers=admin)
        assert missing.status_code == 404


def test_outsiders_can_neither_list_nor_revoke_and_rowless_keys_are_refused(
    pg_settings: Settings, server_env: dict[str, str]
) -> None:
    email = admin_in_database(server_env, "links")
    app = create_app(pg_settings, mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        admin = bearer(password_login(api, email)["access_token"])
        hall = a_meeting(api, admin, "Hall")
        link, key = a_link(api, admin, hall)
        for headers in ({}, {"X-Display-Key": key}, bearer(key)):
            assert api.get("/api/display-links", headers=headers).status_code == 401
            revoking = api.delete(f"/api/display-links/{link}", headers=headers)
            assert revoking.status_code == 401
        assert shown(api, hall, key).status_code == 200  # nothing an outsider did stopped it
        # Keys signed with the real secret but naming no row (as made before links had
        # rows), or a row that does not exist, open nothing.
        assert pg_settings.qr_secret
        signer = DisplaySigner(pg_settings.qr_secret)
        expires = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
        for forged in (
            signer.sign(uuid.UUID(hall), expires_at=expires),
            signer.sign(uuid.UUID(hall), expires_at=expires, link_id=uuid.uuid4()),
        ):
            refused = shown(api, hall, forged)
            assert refused.status_code == 401 and "not valid" in refused.json()["detail"]
