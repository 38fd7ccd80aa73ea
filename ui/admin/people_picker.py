"""A checkable list of people with a filter: who a meeting expects, besides ministries."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from kiosk.admin_types import Member

ID = Qt.ItemDataRole.UserRole


class PeoplePicker(QWidget):
    """Tick people in `people`; ids in `chosen` that are not listed (someone since made
    inactive) stay chosen, so saving the form does not drop them unseen."""

    def __init__(
        self, people: Iterable[Member], chosen: Iterable[str] = (), parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        chosen_ids = list(chosen)
        self.filter = QLineEdit(placeholderText="Filter by name or ministry")
        self.list = QListWidget()
        self.list.setMinimumHeight(110)
        self.summary = QLabel("")
        listed = set()
        for member in people:
            item = QListWidgetItem(f"{member['full_name']} ({member['ministry']})")
            item.setData(ID, member["id"])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = member["id"] in chosen_ids
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            listed.add(member["id"])
        self._unlisted = [i for i in chosen_ids if i not in listed]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.filter, self.list, self.summary):
            layout.addWidget(widget)
        self.filter.textChanged.connect(self._filter)
        self.list.itemChanged.connect(self._count)
        self._count()

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def set_chosen(self, member_id: str, chosen: bool) -> None:
        for item in self.items():
            if item.data(ID) == member_id:
                item.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)

    def chosen_ids(self) -> list[str]:
        checked = Qt.CheckState.Checked
        ticked = [item.data(ID) for item in self.items() if item.checkState() == checked]
        return [*ticked, *self._unlisted]

    def _filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for item in self.items():
            item.setHidden(bool(needle) and needle not in item.text().casefold())

    def _count(self) -> None:
        count = len(self.chosen_ids())
        self.summary.setText(
            f"{count} chosen by name."
            if count
            else "No one ticked: the ministries decide (no ministries: everyone)."
        )
