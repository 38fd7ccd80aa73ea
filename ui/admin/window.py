"""The admin window: sign-in first, then a side list of screens over one admin client.

An ended sign-in (signed out elsewhere, expired, disabled) brings the sign-in screen
back with the sentence saying so, never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Meeting, Member
from kiosk.admin.client import AdminClient
from ui.admin.admins import AdminsView
from ui.admin.attempts import AttemptsView
from ui.admin.badges import BadgesView
from ui.admin.dashboard import DashboardView
from ui.admin.enrol import EngineProvider, EnrolView
from ui.admin.kiosks import KiosksView
from ui.admin.meetings import MeetingsView
from ui.admin.people import PeopleView
from ui.admin.reports import ReportsView
from ui.admin.review import ReviewView
from ui.admin.screen_fit import fit_to_screen
from ui.admin.sign_in import SignInView
from ui.admin.tasks import Tasks
from ui.preview import FrameProvider

STYLE = """
    QWidget { font-size: 16px; }
    #title { font-size: 24px; font-weight: bold; }
    #count { font-size: 22px; font-weight: bold; }
    #busy { color: #555555; }
"""
log = logging.getLogger(__name__)


class AdminWindow(QMainWindow):
    def __init__(
        self,
        client: AdminClient,
        *,
        frames: FrameProvider = lambda: None,
        engine: EngineProvider = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sonta Attendance — admin")
        self.setStyleSheet(STYLE)
        self.client = client
        self.tasks = Tasks(self)
        self.sign_in = SignInView(client, self.tasks)
        self.people = PeopleView(client, self.tasks)
        self.enrol = EnrolView(client, self.tasks, frames, engine)
        self.meetings = MeetingsView(client, self.tasks)
        self.dashboard = DashboardView(client, self.tasks)
        self.review = ReviewView(client, self.tasks)
        self.attempts = AttemptsView(client, self.tasks)
        self.reports = ReportsView(client, self.tasks)
        self.badges = BadgesView(client, self.tasks)
        self.kiosks = KiosksView(client, self.tasks)
        self.admins = AdminsView(client, self.tasks)
        self.screens: dict[str, QWidget] = {
            "People": self.people,
            "Enrolment": self.enrol,
            "Badges": self.badges,
            "Meetings": self.meetings,
            "Live": self.dashboard,
            "Review": self.review,
            "Attempts": self.attempts,
            "Reports": self.reports,
            "Kiosks": self.kiosks,
            "Admins": self.admins,
        }
        self._fitted = False
        self._build()
        self._connect()
        if client.signed_in:
            self.tasks.run("Checking your sign-in", client.me, self._signed_in)

    def _build(self) -> None:
        self.nav = QListWidget()
        self.nav.addItems(list(self.screens))
        self.nav.setFixedWidth(170)
        for index in range(len(self.screens)):  # Ctrl+1 … Ctrl+0 open the screens in order
            keys = QKeySequence(f"Ctrl+{(index + 1) % 10}")
            QShortcut(keys, self, lambda index=index: self._go_to(index))
            self.nav.item(index).setToolTip(keys.toString(QKeySequence.SequenceFormat.NativeText))
        self.stack = QStackedWidget()
        for widget in self.screens.values():
            self.stack.addWidget(widget)
        self.who = QLabel("")
        self.busy = QLabel("")
        self.busy.setObjectName("busy")
        sign_out = QPushButton("Sign &out")
        sign_out.clicked.connect(self.sign_out)
        side = QVBoxLayout()
        side.addWidget(self.nav, 1)
        side.addWidget(self.who)
        side.addWidget(sign_out)
        main = QWidget()
        row = QHBoxLayout(main)
        row.addLayout(side)
        body = QVBoxLayout()
        body.addWidget(self.stack, 1)
        body.addWidget(self.busy)
        row.addLayout(body, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.sign_in)
        self.pages.addWidget(main)
        self.setCentralWidget(self.pages)
        self._main = main

    def _connect(self) -> None:
        self.nav.currentRowChanged.connect(self._on_nav)
        self.sign_in.signed_in.connect(self._signed_in)
        self.tasks.session_ended.connect(self.back_to_sign_in)
        self.tasks.busy_changed.connect(self.busy.setText)
        self.tasks.failed.connect(self.busy.setText)
        self.people.enrol_requested.connect(self.open_enrolment)
        self.people.badges_requested.connect(self.open_badges)
        self.people.history_requested.connect(self.open_history)
        self.meetings.chosen.connect(self.follow_meeting)

    def show_screen(self, name: str) -> None:
        self.nav.setCurrentRow(list(self.screens).index(name))

    def _go_to(self, row: int) -> None:
        """A screen by keyboard: shown, with the keyboard in it (a hidden row stays shut)."""
        if self.pages.currentWidget() is self._main and not self.nav.item(row).isHidden():
            self.nav.setCurrentRow(row)
            self._focus_screen()

    def _on_nav(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        widget = self.stack.currentWidget()
        if widget in (
            self.people,
            self.meetings,
            self.review,
            self.attempts,
            self.reports,
            self.kiosks,
            self.admins,
            self.badges,
        ):
            widget.refresh()

    def _signed_in(self, account: Any) -> None:
        role = str(account["role"]).replace("_", " ")
        log.info("admin app: signed in as %s (%s)", account["email"], role)
        self.who.setText(f"{account['full_name'] or account['email']}\n({role})")
        admins_row = list(self.screens).index("Admins")
        self.nav.item(admins_row).setHidden(account["role"] != "super_admin")
        self.pages.setCurrentWidget(self._main)
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)
        else:
            self._on_nav(self.nav.currentRow())
        self._focus_screen()  # the keyboard goes on where the admin is

    def _focus_screen(self) -> None:
        screen = self.stack.currentWidget()
        if screen is not None:
            screen.setFocus()

    def back_to_sign_in(self, sentence: str) -> None:
        if self.pages.currentWidget() is self.sign_in:
            return  # calls running at once all end this way: the first sentence stays
        self.dashboard.stop()
        self.sign_in.show_message(sentence)
        self.pages.setCurrentWidget(self.sign_in)
        self.sign_in.setFocus()

    def sign_out(self) -> None:
        self.dashboard.stop()
        self.tasks.run(
            "Signing out",
            self.client.sign_out,
            lambda _: self.back_to_sign_in("You are signed out."),
        )

    def open_enrolment(self, member: Member) -> None:
        self.enrol.set_member(member)
        self.show_screen("Enrolment")

    def open_badges(self, member: Member) -> None:
        self.badges.set_member(member)
        self.show_screen("Badges")

    def open_history(self, member: Member) -> None:
        self.reports.show_person(member["id"])
        self.show_screen("Reports")

    def follow_meeting(self, meeting: Meeting) -> None:
        self.reports.meeting_id = meeting["id"]
        self.review.choose(meeting["id"])
        self.attempts.choose(meeting["id"])
        self.dashboard.watch(meeting["id"])
        self.show_screen("Live")

    def shutdown(self) -> None:
        """Stop the live stream and wait for running calls: no thread outlives the window."""
        self.dashboard.stop()
        self.tasks.wait_all()

    def showEvent(self, event: QShowEvent) -> None:
        if not event.spontaneous() and not self._fitted:
            self._fitted = True  # the first show only: later the admin sizes it
            fit_to_screen(self)
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
