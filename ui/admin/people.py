"""People: search, filter by ministry, create, edit, deactivate, delete, consent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Json, Member, MemberPage
from kiosk.admin.client import AdminClient
from ui.admin.csv_import import ImportPreview, summary
from ui.admin.member_dialog import MemberDialog
from ui.admin.people_model import MembersModel
from ui.admin.tasks import Tasks

ALL_MINISTRIES = "All ministries"
PAGE_SIZE = 100


def count_text(page: MemberPage, skip: int = 0) -> str:
    """ "12 people." when one page holds them all, else which ones are shown, e.g.
    "Showing 101 to 200 of 1,000+ people." (the server's count stops at a cap: "+")."""
    total = f"{page['count']:,}{'+' if page['count_capped'] else ''} people"
    if skip == 0 and not page["has_more"]:
        return total + "."
    shown = len(page["data"])
    text = f"Showing {skip + 1:,} to {skip + shown:,} of {total}"
    return text + ("; use Next or search to narrow it down." if page["has_more"] else ".")


class PeopleView(QWidget):
    enrol_requested = Signal(object)  # a Member with consent
    badges_requested = Signal(object)  # a Member
    history_requested = Signal(object)  # a Member, to show their attendance

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.model = MembersModel()
        self.preview: ImportPreview | None = None  # the last CSV import's report
        self.search = QLineEdit(placeholderText="Search name, email or phone")
        self.ministry = QComboBox()
        self.ministry.addItem(ALL_MINISTRIES)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("")  # what the last action did, or why it could not
        self.status.setWordWrap(True)
        self.count = QLabel("")  # how many match, and which of them are shown
        self.page_size, self.skip = PAGE_SIZE, 0
        self.previous_page = QPushButton("◀ Previous")
        self.next_page = QPushButton("Next ▶")
        self.previous_page.clicked.connect(lambda: self._turn(-1))
        self.next_page.clicked.connect(lambda: self._turn(1))
        top = QHBoxLayout()
        top.addWidget(self.search, 3)
        top.addWidget(self.ministry, 1)
        actions = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for name, label, slot in (  # Alt+the underlined letter presses a button
            ("New", "&New", self.new_member),
            ("Import CSV…", "&Import CSV…", self.choose_csv),
            ("Edit", "E&dit", self.edit),
            ("Consent given", "Consent &given", lambda: self.consent(True)),
            ("Withdraw consent", "&Withdraw consent", lambda: self.consent(False)),
            ("Enrol face", "&Enrol face", self.enrol),
            ("Badges", "&Badges", self.open_badges),
            ("History", "&History", self.open_history),
            ("Deactivate", "De&activate", self.deactivate),
            ("Delete", "Delete", self.delete),  # no quick key: a slip must not start it
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            actions.addWidget(button)
            self.buttons[name] = button
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.previous_page)
        bottom.addWidget(self.next_page)
        layout.addLayout(bottom)
        layout.addWidget(self.status)
        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.first_page)
        self.search.textChanged.connect(self._debounce.start)
        self.ministry.currentIndexChanged.connect(self.first_page)
        self._show_paging(False)
        self._keyboard()

    def _keyboard(self) -> None:
        """Everything by keyboard: the screen opens in the search field (Ctrl+F goes back
        there); Return or Down searches and selects the first person found."""
        self._pick_first = False
        self.setFocusProxy(self.search)
        QShortcut(QKeySequence.StandardKey.Find, self, self.search.setFocus)
        self.search.returnPressed.connect(self.pick_first)
        down = QShortcut(QKeySequence(Qt.Key.Key_Down), self.search, self.pick_first)
        down.setContext(Qt.ShortcutContext.WidgetShortcut)

    def pick_first(self) -> None:
        """Search now, then select the first person found and move into the table."""
        self._debounce.stop()
        self._pick_first = True
        self.first_page()

    def refresh(self) -> None:
        """The page shown, and every ministry for the filter (not only this page's)."""
        self._load_page()
        self._tasks.run("Loading ministries", self._client.ministries, self._add_ministries)

    def first_page(self) -> None:
        """A new search or filter starts from its first page."""
        self.skip = 0
        self._load_page()

    def _turn(self, pages: int) -> None:
        self.skip = max(0, self.skip + pages * self.page_size)
        self._load_page()

    def _load_page(self) -> None:
        q = self.search.text().strip()
        ministry = self.ministry.currentText()
        ministry = "" if ministry == ALL_MINISTRIES else ministry
        skip, size = self.skip, self.page_size
        self._tasks.run(
            "Loading people",
            lambda: self._client.member_page(q, ministry=ministry, skip=skip, limit=size),
            lambda page: self._loaded(page, skip),
        )

    def _loaded(self, page: MemberPage, skip: int) -> None:
        if not page["data"] and skip > 0:  # the last page emptied (people deleted): go back
            self._turn(-1)
            return
        members = page["data"]
        chosen = self.selected()
        self.model.set_members(members)
        self._select(chosen["id"] if chosen else None)
        self._add_ministries([m["ministry"] for m in members])
        self.count.setText(count_text(page, skip))
        self.previous_page.setEnabled(skip > 0)
        self.next_page.setEnabled(page["has_more"])
        self._show_paging(skip > 0 or page["has_more"])

    def _select(self, member_id: str | None) -> None:
        """Keep the person selected across a reload; after `pick_first`, the first one."""
        ids = [self.model.member(row)["id"] for row in range(self.model.rowCount())]
        row = ids.index(member_id) if member_id in ids else None
        if self._pick_first and ids:
            row = 0
            self.table.setFocus()
        self._pick_first = False
        if row is not None:
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            self.table.selectionModel().setCurrentIndex(self.model.index(row, 0), flags)

    def _add_ministries(self, ministries: list[str]) -> None:
        known = {self.ministry.itemText(i) for i in range(self.ministry.count())}
        for ministry in sorted(set(ministries) - known):
            self.ministry.addItem(ministry)

    def _show_paging(self, shown: bool) -> None:
        self.previous_page.setVisible(shown)
        self.next_page.setVisible(shown)

    def selected(self) -> Member | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.member(rows[0].row()) if rows else None

    def _need_selection(self) -> Member | None:
        member = self.selected()
        if member is None:
            self.status.setText("Select a person in the table first.")
        return member

    def _saved(self, member: Member) -> None:
        self.status.setText(f"Saved {member['full_name']}.")
        self._load_page()

    def _error(self, message: str) -> None:
        self.status.setText(message)

    def new_member(self) -> None:
        dialog = MemberDialog(parent=self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.save_new(dialog.fields())

    def save_new(self, fields: dict[str, Any]) -> None:
        name, ministry = fields.pop("full_name"), fields.pop("ministry")
        fields = {k: v for k, v in fields.items() if v}
        self._tasks.run(
            "Saving",
            lambda: self._client.create_member(name, ministry, **fields),
            self._saved,
            self._error,
        )

    def edit(self) -> None:
        member = self._need_selection()
        if member is None:
            return
        dialog = MemberDialog(member, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.save_changes(member["id"], dialog.fields())

    def save_changes(self, member_id: str, fields: dict[str, Any]) -> None:
        self._tasks.run(
            "Saving",
            lambda: self._client.update_member(member_id, **fields),
            self._saved,
            self._error,
        )

    def consent(self, given: bool) -> None:
        member = self._need_selection()
        if member is None:
            return
        if not given and not self._confirm(
            f"Withdraw {member['full_name']}'s consent? Their face data is erased at once."
        ):
            return
        self._tasks.run(
            "Recording consent",
            lambda: self._client.set_consent(member["id"], given),
            self._saved,
            self._error,
        )

    def enrol(self) -> None:
        member = self._need_selection()
        if member is None:
            return
        if not member["consent_given"]:
            self.status.setText(
                f"Record {member['full_name']}'s consent first: enrolment needs it."
            )
            return
        self.enrol_requested.emit(member)

    def open_badges(self) -> None:
        member = self._need_selection()
        if member is not None:
            self.badges_requested.emit(member)

    def open_history(self) -> None:
        member = self._need_selection()
        if member is not None:
            self.history_requested.emit(member)

    def deactivate(self) -> None:
        member = self._need_selection()
        if member is not None:
            self._tasks.run(
                "Deactivating",
                lambda: self._client.deactivate_member(member["id"]),
                self._saved,
                self._error,
            )

    def delete(self) -> None:
        member = self._need_selection()
        if member is None or not self._confirm(
            f"Delete {member['full_name']} and all their face data? This cannot be undone."
        ):
            return
        self._tasks.run(
            "Deleting",
            lambda: self._client.delete_member(member["id"]),
            lambda _: self._load_page(),
            self._error,
        )

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "People to import", "", "CSV (*.csv)")
        if path:
            self.preview_import(Path(path))

    def preview_import(self, path: Path, mode: str = "create") -> None:
        """The server's per-row report of `path`, nothing saved yet; then ask to save."""
        self._tasks.run(
            "Checking the file",
            lambda: self._client.import_members(path, dry_run=True, mode=mode),
            lambda report: self._previewed(path, report, mode),
            self._error,
        )

    def _previewed(self, path: Path, report: Json, mode: str) -> None:
        self.preview = ImportPreview(path, report, mode, self)
        self.preview.accepted.connect(lambda: self.commit_import(path, mode))
        self.preview.update_requested.connect(lambda: self.preview_import(path, "update"))
        self.preview.open()

    def commit_import(self, path: Path, mode: str = "create") -> None:
        self._tasks.run(
            "Importing",
            lambda: self._client.import_members(path, dry_run=False, mode=mode),
            self._imported,
            self._error,
        )

    def _imported(self, report: Json) -> None:
        self.status.setText(summary(report))
        self._load_page()

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Please confirm", question)
        return answer == QMessageBox.StandardButton.Yes
