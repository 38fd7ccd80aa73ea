"""Checkable lists for the meeting form: the people a meeting expects besides its
ministries (with a filter), and the kiosks that take its check-ins."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from kiosk.admin.api_types import Kiosk, Member

ID = Qt.ItemDataRole.UserRole


class TickList(QWidget):
    """Tick entries of (id, label); ids in `chosen` that are not listed (a person since
    made inactive, a kiosk since revoked) stay chosen, so saving the form does not drop
    them unseen. `summary` says in words what the ticked count means."""

    def __init__(
        self,
        entries: Iterable[tuple[str, str]],
        chosen: Iterable[str],
        summary: Callable[[int], str],
        *,
        filter_hint: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        chosen_ids = list(chosen)
        self._say = summary
        self.filter = QLineEdit(placeholderText=filter_hint)
        self.filter.setVisible(bool(filter_hint))
        self.list = QListWidget()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        listed = set()
        for entry_id, label in entries:
            item = QListWidgetItem(label)
            item.setData(ID, entry_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = entry_id in chosen_ids
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            listed.add(entry_id)
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

    def set_chosen(self, entry_id: str, chosen: bool) -> None:
        for item in self.items():
            if item.data(ID) == entry_id:
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
        self.summary.setText(self._say(len(self.chosen_ids())))


class PeoplePicker(TickList):
    def __init__(
        self, people: Iterable[Member], chosen: Iterable[str] = (), parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ((m["id"], f"{m['full_name']} ({m['ministry']})") for m in people),
            chosen,
            lambda count: (
                f"{count} chosen by name."
                if count
                else "No one ticked: the ministries decide (none: tick Everyone below)."
            ),
            filter_hint="Filter by name or ministry",
            parent=parent,
        )
        self.list.setMinimumHeight(110)


class KioskPicker(TickList):
    """Paired kiosks; a revoked one is listed only while the meeting names it, so the
    admin can see it and untick it."""

    def __init__(
        self, kiosks: Iterable[Kiosk], chosen: Iterable[str] = (), parent: QWidget | None = None
    ) -> None:
        chosen = list(chosen)
        super().__init__(
            (
                (k["id"], k["name"] + (" (revoked)" if k["revoked_at"] else ""))
                for k in kiosks
                if k["revoked_at"] is None or k["id"] in chosen
            ),
            chosen,
            lambda count: (
                "No kiosk ticked: every kiosk takes its check-ins."
                if not count
                else "Only the ticked kiosk takes its check-ins."
                if count == 1
                else f"Only the {count} ticked kiosks take its check-ins."
            ),
            parent=parent,
        )
        self.list.setMaximumHeight(6 * self.list.fontMetrics().lineSpacing() + 12)
