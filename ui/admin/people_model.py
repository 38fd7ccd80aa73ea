"""The People table: a Qt model over the members the admin client returned."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from kiosk.admin.api_types import Member

COLUMNS = (
    ("Name", "full_name"),
    ("Ministry", "ministry"),
    ("Code", "member_code"),
    ("Email", "email"),
    ("Status", "status"),
    ("Consent", "consent_given"),
    ("Face", "face_enrolled"),
)
# How a yes/no column reads.
WORDS = {
    "consent_given": ("given", "not given"),
    "face_enrolled": ("enrolled", "none yet"),
}
Index = QModelIndex | QPersistentModelIndex


class MembersModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Member] = []

    def set_members(self, members: list[Member]) -> None:
        self.beginResetModel()
        self._rows = list(members)
        self.endResetModel()

    def member(self, row: int) -> Member:
        return self._rows[row]

    def replace(self, member: Member) -> None:
        for row, old in enumerate(self._rows):
            if old["id"] == member["id"]:
                # An edit's answer does not say whether a face is enrolled: keep what the
                # search said.
                if "face_enrolled" in old and "face_enrolled" not in member:
                    member = {**member, "face_enrolled": old["face_enrolled"]}
                self._rows[row] = member
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        key = COLUMNS[index.column()][1]
        value = self._rows[index.row()].get(key)
        if isinstance(value, bool):
            yes, no = WORDS[key]
            return yes if value else no
        return "" if value is None else str(value)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][0]
        return None
