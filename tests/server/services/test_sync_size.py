"""Gallery sync stays lean: bytes on the wire per template, and a small delta stays small.

The targets are for 5,000 members (a snapshot <= 4 MB, a 10-change delta <= 20 KB);
`bench/bench_gallery_sync.py` measures the real 5,000 and the backend's memory. Here a
few hundred members show the per-template cost that scales to them.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi.testclient import TestClient

from tests.server.kiosk_utils import PairedKiosk, make_meeting, model_id, pair_kiosk
from tests.server.utils import admin_headers, backend_of, session_of
from tests.utils.gallery_seed import add_template, seed_enrolled, unit_vectors

MEMBERS = 300
SNAPSHOT_TARGET = 4_000_000  # bytes, for 5,000 members
DELTA_TARGET = 20_000  # bytes, for 10 changes


def pull(client: TestClient, kiosk: PairedKiosk, **params: Any) -> tuple[int, dict[str, Any]]:
    """Bytes on the wire (gzip) and the decoded answer."""
    headers = {**kiosk.headers, "Accept-Encoding": "gzip"}
    with client.stream("GET", "/api/kiosk/gallery", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        raw = b"".join(response.iter_raw())
    return len(raw), json.loads(gzip.decompress(raw))


def test_snapshot_bytes_per_member_fit_5000_members_in_4_mb(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    make_meeting(client, admin, open_to_everyone=True)  # everyone is the kiosk's to hold
    with session_of(client) as session:
        seed_enrolled(
            session, backend_of(client).cipher, members=MEMBERS, model_id=model_id(client)
        )
    size, snapshot = pull(client, kiosk)
    assert len(snapshot["templates"]) == len(snapshot["members"]) == MEMBERS
    # The same answer with float lists (the old format) was 5.5 KB a template.
    assert size / MEMBERS * 5000 <= SNAPSHOT_TARGET, f"{size / MEMBERS:.0f} bytes per member"


def test_a_ten_change_delta_is_small_and_resends_no_members(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    cipher, model = backend_of(client).cipher, model_id(client)
    with session_of(client) as session:
        members = seed_enrolled(session, cipher, members=MEMBERS, model_id=model)
    make_meeting(client, admin, open_to_everyone=True)
    _, first = pull(client, kiosk)
    again = {
        "since": first["version"],
        "scope": first["scope"],
        "members": first["members_digest"],
        "meetings": first["meetings_digest"],
    }
    # Ten changes: five new templates, five members' faces erased.
    with session_of(client) as session:
        for member, vector in zip(members[:5], unit_vectors(5, seed=99), strict=True):
            add_template(session, cipher, member, vector, model)
        session.commit()
    for member in members[5:10]:
        response = client.delete(f"/api/members/{member}/templates", headers=admin)
        assert response.status_code in (200, 204), response.text
    size, delta = pull(client, kiosk, **again)
    assert delta["full"] is False
    assert len(delta["templates"]) == 5
    assert len(delta["deleted_template_ids"]) == 5
    assert delta["members"] is None and delta["meetings"] is None
    assert size <= DELTA_TARGET, f"{size} bytes"
    assert json.dumps(delta).count("Mensah") == 0  # no member list
