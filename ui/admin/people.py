"""People: search, filter by ministry, create, edit, deactivate, delete, consent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
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
from ui.admin.forms import save_cancel_form
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


class MemberDialog(QDialog):
    """Name, ministry, email and phone of a new or existing member."""

    def __init__(self, member: Member | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit member" if member else "New member")
        self.full_name = QLineEdit(member["full_name"] if member else "")
        self.ministry = QLineEdit(member["ministry"] if member else "")
        self.email = QLineEdit((member["email"] or "") if member else "")
        self.phone = QLineEdit((member["phone"] or "") if member else "")
        save_cancel_form(
            self,
            (
                ("Full name", self.full_name),
                ("Ministry", self.ministry),
                ("Email", self.email),
                ("Phone", self.phone),
            ),
        )

    def fields(self) -> dict[str, Any]:
        return {
            "full_name": self.full_name.text().strip(),
            "ministry": self.ministry.text().strip(),
            "email": self.email.text().strip() or None,
            "phone": self.phone.text().strip() or None,
        }


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
        for name, slot in (
            ("New", self.new_member),
            ("Import CSV…", self.choose_csv),
            ("Edit", self.edit),
            ("Consent given", lambda: self.consent(True)),
            ("Withdraw consent", lambda: self.consent(False)),
            ("Enrol face", self.enrol),
            ("Badges", self.open_badges),
            ("History", self.open_history),
            ("Deactivate", self.deactivate),
            ("Delete", self.delete),
        ):
            button = QPushButton(name)
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
        self.model.set_members(members)
        self._add_ministries([m["ministry"] for m in members])
        self.count.setText(count_text(page, skip))
        self.previous_page.setEnabled(skip > 0)
        self.next_page.setEnabled(page["has_more"])
        self._show_paging(skip > 0 or page["has_more"])

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
