"""CSV import in update mode: rows matched to members by member code or email, a dry run
that reports every row before anything is saved, and all-or-nothing saving."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.server.attendance_utils import make_member
from tests.server.utils import admin_headers


def _import(
    client: TestClient, headers: dict[str, str], text: str, **params: Any
) -> httpx.Response:
    files = {"file": ("members.csv", text.encode(), "text/csv")}
    return client.post("/api/members/import", files=files, params=params, headers=headers)


def _members(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    listed = client.get("/api/members", headers=headers).json()["data"]
    return {m["full_name"]: m for m in listed}


def test_update_mode_previews_every_row_then_saves_the_same(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    ama = make_member(any_client, admin, "Ama Mensah", phone="024")
    make_member(any_client, admin, "Kofi Boateng", email="kofi@example.org")
    text = (
        "member_code,full_name,ministry,email,phone\n"
        f"{ama['member_code'].lower()},,,,055\n"  # matched by code: phone changes
        ",Kofi Boateng,Choir,KOFI@example.org,\n"  # matched by email: nothing changes
        ",Esi Owusu,Ushers,esi@example.org,\n"  # nobody: created
    )
    preview = _import(any_client, admin, text, mode="update", dry_run="true")
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert (report["saved"], report["created"], report["updated"], report["unchanged"]) == (
        False,
        1,
        1,
        1,
    )
    rows = [(r["row"], r["action"], r["full_name"], r["changes"]) for r in report["rows"]]
    assert rows == [
        (2, "updated", "Ama Mensah", ["phone"]),
        (3, "unchanged", "Kofi Boateng", []),
        (4, "created", "Esi Owusu", []),
    ]
    assert report["rows"][0]["member_code"] == ama["member_code"]
    before = _members(any_client, admin)
    assert len(before) == 2 and before["Ama Mensah"]["phone"] == "024"

    saved = _import(any_client, admin, text, mode="update")
    assert saved.status_code == 201, saved.text
    assert saved.json()["saved"] is True
    assert [r["action"] for r in saved.json()["rows"]] == ["updated", "unchanged", "created"]
    after = _members(any_client, admin)
    assert after["Ama Mensah"]["phone"] == "055" and after["Ama Mensah"]["ministry"] == "Choir"
    assert after["Esi Owusu"]["email"] == "esi@example.org"


def test_create_mode_points_to_update_mode_for_existing_members(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    make_member(any_client, admin, "Kofi Boateng", email="kofi@example.org")
    text = "full_name,ministry,email\nKofi Boateng,Choir,kofi@example.org\nNew,Choir,\n"
    refused = _import(any_client, admin, text)
    assert refused.status_code == 422
    [error] = refused.json()["detail"]["errors"]
    assert error["row"] == 2 and "import in update mode (Update existing)" in error["errors"][0]
    assert len(_members(any_client, admin)) == 1


def test_update_mode_reports_every_bad_row_and_saves_nothing(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    ama = make_member(any_client, admin, "Ama Mensah", email="ama@example.org")
    make_member(any_client, admin, "Kofi Boateng", email="kofi@example.org")
    code = ama["member_code"]
    text = (
        "member_code,full_name,ministry,email,phone\n"
        f"{code},,,,055\n"
        "ZZZZZZ,,,,\n"  # row 3: no such code
        f"{code},,,,056\n"  # row 4: Ama again
        ",Kofi Boateng,Choir,ama@example.org,\n"  # row 5: Ama's email... matches Ama twice
        ",Nobody,,,\n"  # row 6: a new member needs a ministry
    )
    refused = _import(any_client, admin, text, mode="update")
    assert refused.status_code == 422, refused.text
    errors = {e["row"]: e["errors"][0] for e in refused.json()["detail"]["errors"]}
    assert sorted(errors) == [3, 4, 5, 6]
    assert "no member has the code ZZZZZZ" in errors[3]
    assert "also on row 2" in errors[4] and "also on row 2" in errors[5]
    assert errors[6].startswith("ministry")
    assert _members(any_client, admin)["Ama Mensah"]["phone"] is None
    no_key = _import(any_client, admin, "full_name,ministry\nA,Choir\n", mode="update")
    assert no_key.status_code == 422 and "member_code or email" in no_key.json()["detail"]


def test_a_member_without_email_imported_again_is_flagged_then_matched_by_name_and_phone(
    any_client: TestClient,
) -> None:
    admin = admin_headers(any_client)
    text = "full_name,ministry,phone\nKojo Asante,Choir,024 555 0101\nEfua Sey,Ushers,\n"
    first = _import(any_client, admin, text)
    assert first.status_code == 201, first.text
    assert [r["warning"] for r in first.json()["rows"]] == ["", ""]
    codes = {n: m["member_code"] for n, m in _members(any_client, admin).items()}

    # The same file again: nothing refuses it, so each likely duplicate is said in words.
    again = _import(any_client, admin, text, dry_run="true").json()
    assert again["warnings"] == 2 and again["created"] == 2
    kojo, efua = again["rows"]
    assert kojo["warning"] == (
        f"looks like Kojo Asante ({codes['Kojo Asante']}, Choir), already listed with the "
        "same name and phone; to change them instead, import in update mode (Update existing)"
    )
    assert "Efua Sey" in efua["warning"] and "same name and ministry" in efua["warning"]

    # Update mode matches Kojo by name and phone (typed differently), so no one is added.
    update = "full_name,ministry,phone\nKojo Asante,Choir,0245550101\n"
    matched = _import(any_client, admin, update, mode="update")
    assert matched.status_code == 201, matched.text
    assert [(r["action"], r["member_code"], r["changes"]) for r in matched.json()["rows"]] == [
        ("updated", codes["Kojo Asante"], ["phone"])
    ]
    assert len(_members(any_client, admin)) == 2
    # Efua has no phone, so only her warning can stop a second Efua: it still shows.
    efua_again = _import(any_client, admin, text, mode="update", dry_run="true").json()["rows"][1]
    assert efua_again["action"] == "created" and "Efua Sey" in efua_again["warning"]


def test_the_same_person_twice_in_one_file_is_flagged(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    text = "full_name,ministry,phone\nAba Ofori,Choir,\nAba Ofori,Choir,\nAba Ofori,Youth,\n"
    rows = _import(any_client, admin, text, dry_run="true").json()["rows"]
    assert [r["warning"] for r in rows] == [
        "",
        "looks like the person on row 2 (the same name and ministry)",
        "",
    ]


def test_update_mode_takes_a_file_of_names_and_phones(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    make_member(any_client, admin, "Yaw Mensah", phone="020 111")
    text = "full_name,phone,notes\nYaw Mensah,020 111,Sings bass\n"
    saved = _import(any_client, admin, text, mode="update")
    assert saved.status_code == 201, saved.text
    assert saved.json()["rows"][0]["changes"] == ["notes"]
    assert _members(any_client, admin)["Yaw Mensah"]["notes"] == "Sings bass"
