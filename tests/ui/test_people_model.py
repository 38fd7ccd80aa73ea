"""The People table's model: how its yes/no columns read, and an edit keeps the face flag."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.admin.api_types import Member
from ui.admin.people_model import COLUMNS, MembersModel


def _member(name: str, **fields: Any) -> Member:
    row: dict[str, Any] = {
        "id": name.lower(),
        "member_code": "SH-0001",
        "full_name": name,
        "ministry": "Choir",
        "email": None,
        "phone": None,
        "notes": "",
        "status": "active",
        "consent_given": True,
        "consent_changed_at": None,
        "created_at": "2026-12-07T10:00:00Z",
        "updated_at": "2026-12-07T10:00:00Z",
        **fields,
    }
    return row  # type: ignore[return-value]


def _cell(model: MembersModel, row: int, header: str) -> Any:
    column = [title for title, _key in COLUMNS].index(header)
    return model.data(model.index(row, column))


def test_the_face_column_says_who_is_enrolled_and_an_edit_keeps_it(qtbot: QtBot) -> None:
    model = MembersModel()
    model.set_members(
        [
            _member("Esi", face_enrolled=True),
            _member("Wale", face_enrolled=False, consent_given=False),
        ]
    )
    assert model.headerData(len(COLUMNS) - 1, Qt.Orientation.Horizontal) == "Face"
    assert [_cell(model, r, "Face") for r in range(2)] == ["enrolled", "none yet"]
    assert [_cell(model, r, "Consent") for r in range(2)] == ["given", "not given"]
    # The answer to an edit carries no face flag: the row keeps the search's.
    model.replace(_member("Esi", ministry="Ushers"))
    assert (_cell(model, 0, "Ministry"), _cell(model, 0, "Face")) == ("Ushers", "enrolled")
