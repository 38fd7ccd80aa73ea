"""Kiosks: health at a glance, a pairing code for a new kiosk, rename, revoke."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin_client import AdminClient
from kiosk.admin_types import Json, Kiosk
from ui.admin.tasks import Tasks

HEADERS = ("Name", "Last seen", "Queue", "Model", "Gallery", "Drift (s)", "Camera", "Health")


def row_of(kiosk: Kiosk) -> list[str]:
    drift = kiosk["clock_drift_s"]
    health = kiosk.get("health") or {}
    return [
        kiosk["name"] + (" (revoked)" if kiosk["revoked_at"] else ""),
        (kiosk["last_seen_at"] or "never")[:19].replace("T", " "),
        str(kiosk["queue_depth"]),
        kiosk["model_id"],
        str(kiosk["gallery_version"]),
        "-" if drift is None else f"{drift:.1f}",
        kiosk["camera_state"],
        str(health.get("state") or health.get("status") or health),
    ]


class KiosksView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.kiosks: list[Kiosk] = []
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.code = QLabel("")
        self.code.setObjectName("title")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel("")
        buttons = QHBoxLayout()
        for label, slot in (
            ("Pairing code…", self.ask_code),
            ("Rename…", self.rename),
            ("Revoke…", self.revoke),
            ("Refresh", self.refresh),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.code)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        self._tasks.run("Loading kiosks", self._client.kiosks, self._loaded)

    def _loaded(self, kiosks: list[Kiosk]) -> None:
        self.kiosks = kiosks
        self.table.setRowCount(len(kiosks))
        for r, kiosk in enumerate(kiosks):
            for c, text in enumerate(row_of(kiosk)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _selected(self) -> Kiosk | None:
        row = self.table.currentRow()
        if 0 <= row < len(self.kiosks):
            return self.kiosks[row]
        self.status.setText("Select a kiosk first.")
        return None

    def ask_code(self) -> None:
        name, ok = QInputDialog.getText(self, "New kiosk", "Kiosk name (e.g. Front door)")
        if ok and name.strip():
            self.make_code(name.strip())

    def make_code(self, name: str) -> None:
        self._tasks.run(
            "Making a pairing code",
            lambda: self._client.pairing_code(name),
            self._code_made,
            self.status.setText,
        )

    def _code_made(self, code: Json) -> None:
        self.code.setText(f"Pairing code for {code['name']}: {code['code']}")
        self.status.setText(f"Type it on the kiosk before {str(code['expires_at'])[11:16]} UTC.")

    def rename(self) -> None:
        kiosk = self._selected()
        if kiosk is None:
            return
        name, ok = QInputDialog.getText(self, "Rename kiosk", "New name", text=kiosk["name"])
        if ok and name.strip():
            self._tasks.run(
                "Renaming",
                lambda: self._client.rename_kiosk(kiosk["id"], name.strip()),
                lambda _: self.refresh(),
                self.status.setText,
            )

    def revoke(self) -> None:
        kiosk = self._selected()
        question = "Revoke this kiosk? It stops working and wipes its face data."
        if kiosk is None or QMessageBox.question(self, "Please confirm", question) != (
            QMessageBox.StandardButton.Yes
        ):
            return
        self._tasks.run(
            "Revoking",
            lambda: self._client.revoke_kiosk(kiosk["id"]),
            lambda _: self.refresh(),
            self.status.setText,
        )
