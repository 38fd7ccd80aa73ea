"""Kiosks: health at a glance, what each holds, a pairing code for a new kiosk, rename,
revoke.

"Holds" is what the kiosk's last gallery sync gave it (people, face templates, and the
meetings they are expected at): a kiosk keeps only the people of the meetings it serves
that are open or start soon, so an admin can see whose faces sit on which device.

The dialogs are thin wrappers around `make_code`, `rename` and `revoke_selected`, which
tests call with a selected row.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QInputDialog, QLabel, QMessageBox, QWidget

from kiosk.admin.api_types import Json, Kiosk
from kiosk.admin.client import AdminClient
from ui.admin.table_screen import TableScreen
from ui.admin.tasks import Tasks
from ui.admin.times import CLOCK, ago, local
from ui.admin.words import count

HEADERS = (
    "Name",
    "Last sync",
    "Queue",
    "Model",
    "Gallery",
    "Drift (s)",
    "Camera",
    "Health",
    "Holds",
)


HEALTH = {
    "online": "online",
    "stale": "stale: not heard from lately",
    "offline": "offline",
    "never_seen": "never seen",
    "revoked": "revoked",
}


def holdings(kiosk: Kiosk, now: datetime | None = None) -> str:
    """What the kiosk's last gallery sync gave it, in words."""
    synced = kiosk["gallery_synced_at"]
    if not synced:
        return "nothing yet: it has not synced its gallery"
    when = f"as of {ago(synced, now)}"
    meetings = kiosk["gallery_meetings"]
    if not meetings:
        return f"nobody: no meeting it serves is open or due soon ({when})"
    each = ", ".join(f"{m['title']} ({count(m['people'], 'person', 'people')})" for m in meetings)
    people = count(kiosk["gallery_people"], "person", "people")
    faces = count(kiosk["gallery_templates"], "face")
    return f"{people}, {faces} for {each} ({when})"


def row_of(kiosk: Kiosk, now: datetime | None = None) -> list[str]:
    """One kiosk's cells; the last sync with its age, as the server's metrics report it."""
    drift = kiosk["clock_drift_s"]
    model = kiosk["model_id"] or "-"
    seen = kiosk["last_seen_at"]
    return [
        kiosk["name"] + (" (revoked)" if kiosk["revoked_at"] else ""),
        f"{local(seen)} ({ago(seen, now)})" if seen else "never",
        str(kiosk["queue_depth"]),
        model if kiosk["model_matches"] or not kiosk["model_id"] else f"{model} (not the server's)",
        str(kiosk["gallery_version"]),
        "-" if drift is None else f"{round(drift, 1) + 0.0:.1f}",  # + 0.0: never "-0.0"
        kiosk["camera_state"],
        HEALTH.get(kiosk["health"], kiosk["health"]),
        holdings(kiosk, now),
    ]


class KiosksView(TableScreen[Kiosk]):
    noun, a_noun = "kiosk", "a kiosk"
    empty = "No kiosk is paired yet: make a pairing code and type it on the new kiosk."

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(
            client,
            tasks,
            HEADERS,
            (
                ("Pairing code…", self.ask_code),
                ("Rename…", self.ask_rename),
                ("Revoke…", self.revoke),
            ),
            parent,
        )
        self.code = QLabel("")
        self.code.setObjectName("title")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.insertWidget(2, self.code)
        self.show_revoked = QCheckBox("Show revoked kiosks")
        self.show_revoked.toggled.connect(self.refresh)
        self.layout_.insertWidget(0, self.show_revoked)

    def load(self) -> list[Kiosk]:
        return self._client.kiosks(include_revoked=self.show_revoked.isChecked())

    def cells(self, row: Kiosk) -> list[str]:
        return row_of(row)

    def ask_code(self) -> None:
        name, ok = QInputDialog.getText(self, "New kiosk", "Kiosk name (e.g. Front door)")
        if ok:
            self.make_code(name)

    def make_code(self, name: str) -> None:
        name = name.strip()
        if not name:
            self.status.setText("Give the new kiosk a name, e.g. Front door.")
            return
        self._tasks.run(
            "Making a pairing code",
            lambda: self._client.pairing_code(name),
            self._code_made,
            self.status.setText,
        )

    def _code_made(self, code: Json) -> None:
        self.code.setText(f"Pairing code for {code['name']}: {code['code']}")
        self.status.setText(f"Type it on the kiosk before {local(code['expires_at'], CLOCK)}.")

    def ask_rename(self) -> None:
        kiosk = self.selected()
        if kiosk is None:
            return
        name, ok = QInputDialog.getText(self, "Rename kiosk", "New name", text=kiosk["name"])
        if ok:
            self.rename(name)

    def rename(self, name: str) -> None:
        kiosk = self.selected()
        if kiosk is None:
            return
        name = name.strip()
        if not name:
            self.status.setText("A kiosk needs a name; nothing was changed.")
            return
        self.act(
            "Renaming",
            lambda: self._client.rename_kiosk(kiosk["id"], name),
            lambda saved: f"Renamed to {saved['name']}.",
        )

    def revoke(self) -> None:
        question = "Revoke this kiosk? It stops working and wipes its face data."
        if self.selected() is not None and (
            QMessageBox.question(self, "Please confirm", question) == QMessageBox.StandardButton.Yes
        ):
            self.revoke_selected()

    def revoke_selected(self) -> None:
        kiosk = self.selected()
        if kiosk is not None:
            self.act(
                "Revoking",
                lambda: self._client.revoke_kiosk(kiosk["id"]),
                lambda saved: (
                    f"{saved['name']} is revoked; it wipes its face data when it "
                    "next reaches the server, and must be paired again to work."
                ),
            )
