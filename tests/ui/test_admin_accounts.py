"""Accounts and devices in the admin app against a real backend: signing in with an
emailed one-time code, the super admin's Admins screen, and the Kiosks screen."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.exceptions import TimeoutError
from pytestqt.qtbot import QtBot

from kiosk.admin.client import AdminClient
from kiosk.errors import DeviceRevokedError
from kiosk.syncing.syncer import pair
from server.backend.core.config import Settings
from server.backend.models import Admin
from server.backend.services.accounts import LINK_SENT, NOT_EMAILED
from server.backend.services.mailer import ConsoleMailer
from tests.kiosk.backend import LiveBackend, live_backend
from tests.kiosk.syncing.test_sync import Kiosk, kiosk
from tests.server.kiosk_utils import pair_kiosk
from tests.server.utils import PASSWORD, bearer, login, make_admin
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, window
from ui.admin.table_screen import TableScreen
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]


def sign_in_as(qtbot: QtBot, window: AdminWindow, email: str) -> None:
    window.sign_in.email.setText(email)
    window.sign_in.password.setText(PASSWORD)
    window.sign_in.sign_in_button.click()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window._main, timeout=WAIT_MS)


def said(qtbot: QtBot, screen: TableScreen[dict[str, object]], words: str) -> None:
    """Wait for the screen's status line to say `words` and the screen to settle."""
    try:
        qtbot.waitUntil(lambda: words in screen.status.text(), timeout=WAIT_MS)
    except TimeoutError:
        raise AssertionError(f"the status says {screen.status.text()!r}") from None
    qtbot.waitUntil(lambda: screen._tasks.running == 0, timeout=WAIT_MS)


def select(screen: TableScreen[dict[str, object]], key: str, value: object) -> None:
    rows: Sequence[dict[str, object]] = screen.rows
    screen.table.selectRow(next(i for i, row in enumerate(rows) if row[key] == value))


def stored_admin(backend: LiveBackend, email: str) -> Admin | None:
    with backend.admin.app.state.backend.sessions() as session:  # type: ignore[attr-defined]
        found = session.query(Admin).filter(Admin.email == email).one_or_none()
        return found


def test_signing_in_with_an_emailed_code_works_once_and_a_wrong_code_is_refused(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    email = make_admin(backend.admin, password=None).email  # invited: no password yet
    screen = window.sign_in
    screen.email.setText(email)
    screen.send_code_button.click()
    qtbot.waitUntil(lambda: screen.message.text() == LINK_SENT, timeout=WAIT_MS)
    code = backend.mailer.last_code(email)

    screen.code.setText("not-the-code")
    screen.use_code_button.click()
    qtbot.waitUntil(
        lambda: "invalid, expired or already used" in screen.message.text(), timeout=WAIT_MS
    )
    assert window.pages.currentWidget() is screen and not window.client.signed_in

    screen.code.setText(code)
    screen.code.returnPressed.emit()  # Enter in the code field signs in too
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window._main, timeout=WAIT_MS)
    assert window.client.me()["email"] == email and "(admin)" in window.who.text()
    assert screen.code.text() == ""

    window.sign_out()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is screen, timeout=WAIT_MS)
    screen.code.setText(code)  # the same code again
    screen.use_code_button.click()
    qtbot.waitUntil(
        lambda: "invalid, expired or already used" in screen.message.text(), timeout=WAIT_MS
    )
    assert window.pages.currentWidget() is screen and not window.client.signed_in
    assert window.grab().save(str(artefact_dir(tmp_path) / "sign_in_code_1280x800.png"))


def test_a_super_admin_invites_disables_enables_and_resets_admins(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    me = make_admin(backend.admin, role="super_admin")
    other = make_admin(backend.admin)
    other_token = login(backend.admin, other.email)["access_token"]
    sign_in_as(qtbot, window, me.email)
    assert window.who.text().endswith("(super admin)")
    assert not window.nav.item(list(window.screens).index("Admins")).isHidden()
    window.show_screen("Admins")
    admins = window.admins
    qtbot.waitUntil(
        lambda: {me.email, other.email} <= {a["email"] for a in admins.rows}, timeout=WAIT_MS
    )

    # Nothing selected: the screen says so and the server is not asked.
    admins.buttons["Disable"].click()
    assert admins.status.text() == "Select an admin first."

    invited = f"new-{other.email}"
    admins.invite(invited, "Nana New", "Admin")
    said(qtbot, admins, f"Invited {invited}. A one-time link to set a password was emailed")
    stored = stored_admin(backend, invited)
    assert stored is not None and stored.role == "admin" and stored.password_hash is None
    assert backend.mailer.sent[-1][:2] == (invited, "Set your Sonta Attendance password")
    assert invited in [a["email"] for a in admins.rows]
    admins.invite(invited)
    said(qtbot, admins, "An admin with this email already exists.")

    select(admins, "email", other.email)
    admins.buttons["Disable"].click()
    said(qtbot, admins, "is disabled")
    stored = stored_admin(backend, other.email)
    assert stored is not None and not stored.is_active
    assert backend.admin.get("/api/auth/me", headers=bearer(other_token)).status_code == 401
    row = next(i for i, a in enumerate(admins.rows) if a["email"] == other.email)
    assert admins.table.item(row, 3).text() == "no"

    sent = len(backend.mailer.sent)
    select(admins, "email", other.email)
    admins.buttons["Send reset link"].click()
    said(qtbot, admins, "This admin is disabled; enable them first.")
    assert len(backend.mailer.sent) == sent

    select(admins, "email", other.email)
    admins.buttons["Enable"].click()
    said(qtbot, admins, "can sign in again")
    select(admins, "email", other.email)
    admins.buttons["Send reset link"].click()
    said(qtbot, admins, f"A one-time link to set a password was emailed to {other.email}.")
    assert admins.link_dialog is None  # emailed: the link is not shown
    assert backend.mailer.sent[-1][:2] == (other.email, "Set your Sonta Attendance password")

    select(admins, "email", me.email)
    admins.buttons["Disable"].click()
    said(qtbot, admins, "You cannot disable or demote yourself; ask another super admin.")
    stored = stored_admin(backend, me.email)
    assert stored is not None and stored.is_active
    assert window.grab().save(str(artefact_dir(tmp_path) / "admins_1280x800.png"))


def test_an_ordinary_admin_neither_sees_nor_can_use_the_admins_screen(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in_as(qtbot, window, make_admin(backend.admin).email)
    assert window.nav.item(list(window.screens).index("Admins")).isHidden()
    admins = window.admins
    admins.refresh()
    said(qtbot, admins, "Only a super admin can manage admins.")
    assert admins.rows == []
    admins.invite("sneaky@example.org")
    qtbot.waitUntil(lambda: admins._tasks.running == 0, timeout=WAIT_MS)
    assert admins.status.text() == "Only a super admin can manage admins."
    assert stored_admin(backend, "sneaky@example.org") is None


def test_a_kiosk_paired_with_the_screens_code_is_renamed_then_revoked_and_stops_syncing(
    qtbot: QtBot,
    window: AdminWindow,
    backend: LiveBackend,
    kiosk: Kiosk,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sign_in_as(qtbot, window, make_admin(backend.admin).email)
    window.show_screen("Kiosks")
    screen = window.kiosks
    said(qtbot, screen, "No kiosk is paired yet: make a pairing code")
    screen.make_code("   ")
    assert screen.status.text() == "Give the new kiosk a name, e.g. Front door."
    screen.make_code("Hall kiosk")
    qtbot.waitUntil(lambda: "Pairing code for Hall kiosk: " in screen.code.text(), timeout=WAIT_MS)
    code = screen.code.text().rsplit(": ", 1)[1]
    other = pair_kiosk(backend.admin, backend.headers, "Other hall")
    backend.member("Barack Obama", kiosk.engine, "obama")
    backend.member("Joe Biden", kiosk.engine, "biden", ministry="Ushers")
    backend.meeting(title="Sunday service", expected_ministries=["Choir"])
    backend.meeting(title="Ushers only", expected_ministries=["Ushers"], kiosk_ids=[other.id])
    pair(backend.url, code, store=kiosk.store, credentials=kiosk.credentials)
    syncer = kiosk.syncer()
    syncer.sync_once()
    kiosk_id = kiosk.store.get_state("kiosk_id")

    screen.refresh()
    qtbot.waitUntil(lambda: any(k["id"] == kiosk_id for k in screen.rows), timeout=WAIT_MS)
    row = next(i for i, k in enumerate(screen.rows) if k["id"] == kiosk_id)
    assert screen.table.item(row, 0).text() == "Hall kiosk"
    assert screen.table.item(row, 1).text() != "never"  # its sync was seen
    assert screen.table.item(row, 3).text() == kiosk.engine.model_id
    assert screen.table.item(row, 7).text() == "online"
    # What it holds: Obama of the Sunday service, never Biden of another kiosk's meeting.
    holds = screen.table.item(row, 8).text()
    assert holds.startswith("1 person, 1 face for Sunday service (1 person) (as of "), holds
    assert "Ushers only" not in holds
    other_row = next(i for i, k in enumerate(screen.rows) if k["id"] == other.id)
    assert screen.table.item(other_row, 8).text() == "nothing yet: it has not synced its gallery"

    screen.table.clearSelection()
    screen.buttons["Rename…"].click()  # nothing selected: no dialog, a sentence
    assert screen.status.text() == "Select a kiosk first."
    select(screen, "id", kiosk_id)
    screen.rename("  ")
    assert screen.status.text() == "A kiosk needs a name; nothing was changed."
    screen.rename("Side door")
    said(qtbot, screen, "Renamed to Side door.")
    assert [k["name"] for k in window.client.kiosks() if k["id"] == kiosk_id] == ["Side door"]

    select(screen, "id", kiosk_id)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No)
    screen.buttons["Revoke…"].click()  # the admin thinks again: nothing happens
    idle(qtbot, window)
    assert not next(k for k in window.client.kiosks() if k["id"] == kiosk_id)["revoked_at"]
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    screen.buttons["Revoke…"].click()
    said(qtbot, screen, "Side door is revoked")
    assert kiosk_id not in [k["id"] for k in screen.rows]  # the list is of working kiosks
    screen.show_revoked.setChecked(True)
    qtbot.waitUntil(lambda: any(k["id"] == kiosk_id for k in screen.rows), timeout=WAIT_MS)
    row = next(i for i, k in enumerate(screen.rows) if k["id"] == kiosk_id)
    assert screen.table.item(row, 0).text() == "Side door (revoked)"
    assert screen.table.item(row, 7).text() == "revoked"
    assert next(k for k in window.client.kiosks(include_revoked=True) if k["id"] == kiosk_id)[
        "revoked_at"
    ]
    assert kiosk.store.template_count() == 1
    with pytest.raises(DeviceRevokedError):
        syncer.sync_once()
    assert kiosk.store.template_count() == 0
    assert kiosk.status.snapshot.connection == "revoked"
    assert window.grab().save(str(artefact_dir(tmp_path) / "kiosks_1280x800.png"))


@pytest.fixture
def window_without_email(
    qtbot: QtBot, pg_settings: Settings, keyring_dir: Path
) -> Iterator[tuple[AdminWindow, LiveBackend]]:
    """The admin app against a backend with no email set up (the development mailer)."""
    settings = pg_settings.model_copy(update={"face_model": "vectron"})
    with live_backend(settings, ConsoleMailer(io.StringIO())) as backend:
        client = AdminClient(backend.url)
        made = AdminWindow(client)
        qtbot.addWidget(made)
        made.resize(1366, 768)
        made.show()
        yield made, backend
        made.shutdown()
        client.close()


def test_without_email_the_app_says_so_and_the_super_admin_passes_the_link_on(
    qtbot: QtBot, window_without_email: tuple[AdminWindow, LiveBackend], tmp_path: Path
) -> None:
    window, backend = window_without_email
    screen = window.sign_in
    screen.email.setText("someone@example.org")
    screen.send_code_button.click()
    qtbot.waitUntil(lambda: screen.message.text() == NOT_EMAILED, timeout=WAIT_MS)

    sign_in_as(qtbot, window, make_admin(backend.admin, role="super_admin").email)
    window.show_screen("Admins")
    admins = window.admins
    admins.invite("kofi@example.org", "Kofi New", "Admin")
    said(qtbot, admins, "Invited kofi@example.org. Email is not set up: pass on the one-time")
    dialog = admins.link_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Give kofi@example.org this one-time link yourself" in dialog.sentence.text()
    link = dialog.link.text()
    assert "/auth/set-password?token=" in link and dialog.link.isReadOnly()
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == link
    assert dialog.copied.text().startswith("Copied.")
    assert dialog.grab().save(str(artefact_dir(tmp_path) / "one_time_link.png"))
    dialog.reject()
    qtbot.waitUntil(lambda: admins.link_dialog is None, timeout=WAIT_MS)

    # The link is the invited admin's way in: it sets their password, once.
    token = link.split("token=", 1)[1]
    body = {"token": token, "password": PASSWORD}
    assert backend.admin.post("/api/auth/password/set", json=body).status_code == 204
    assert backend.admin.post("/api/auth/password/set", json=body).status_code == 401

    select(admins, "email", "kofi@example.org")
    admins.buttons["Send reset link"].click()
    said(qtbot, admins, "Email is not set up: pass on the one-time link shown.")
    assert admins.link_dialog is not None and admins.link_dialog.link.text() != link
    admins.link_dialog.reject()
    qtbot.waitUntil(lambda: admins.link_dialog is None, timeout=WAIT_MS)


__all__ = ["kiosk", "window"]  # fixtures from other test modules, used above
