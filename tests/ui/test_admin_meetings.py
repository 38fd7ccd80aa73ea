"""The Meetings screen against a real backend: the form (expected people, kiosks, map
position, an optional late-after time, QR policy, liveness), its refusals before sending,
and the life cycle with reopen and copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from kiosk.admin.api_types import Meeting
from tests.kiosk.backend import LiveBackend
from tests.server.kiosk_utils import pair_kiosk
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, sign_in, window
from ui.admin.meeting_form import MeetingDialog
from ui.admin.meetings import MeetingsView
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]
__all__ = ["window"]  # the fixture, used below


def open_form(qtbot: QtBot, meetings: MeetingsView, meeting: bool = False) -> MeetingDialog:
    previous = meetings.form
    meetings.edit() if meeting else meetings.new_meeting()
    qtbot.waitUntil(
        lambda: meetings.form is not previous and meetings.form.isVisible(),  # type: ignore[union-attr]
        timeout=WAIT_MS,
    )
    assert meetings.form is not None
    return meetings.form


def save(qtbot: QtBot, window: AdminWindow, form: MeetingDialog) -> None:
    form.accept()  # what the Save button does
    idle(qtbot, window)


def only_meeting(window: AdminWindow, title: str) -> Meeting:
    (found,) = [m for m in window.client.meetings() if m["title"] == title]
    return found


def select(qtbot: QtBot, meetings: MeetingsView, title: str) -> None:
    qtbot.waitUntil(
        lambda: any(title in meetings.list.item(i).text() for i in range(meetings.list.count())),
        timeout=WAIT_MS,
    )
    for i in range(meetings.list.count()):
        if meetings.list.item(i).text().startswith(f"{title} · "):
            meetings.list.setCurrentRow(i)


def local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


def test_the_form_chooses_people_kiosks_a_map_position_and_the_qr_policy_and_refuses_bad_input(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    ada = window.client.create_member("Ada Expected", "Choir")["id"]
    ben = window.client.create_member("Ben Expected", "Ushers")["id"]
    door = pair_kiosk(backend.admin, backend.headers, "Front door").id
    hall = pair_kiosk(backend.admin, backend.headers, "Side hall").id
    gone = pair_kiosk(backend.admin, backend.headers, "Old tablet").id
    window.client.revoke_kiosk(gone)
    window.show_screen("Meetings")
    meetings = window.meetings
    form = open_form(qtbot, meetings)
    assert form.people.list.count() == 2
    # A revoked kiosk is not offered for a new meeting.
    assert [item.text() for item in form.kiosks.items()] == ["Front door", "Side hall"]
    assert form.kiosks.summary.text() == "No kiosk ticked: every kiosk takes its check-ins."
    form.people.filter.setText("ushers")
    assert [form.people.list.item(i).isHidden() for i in range(2)] == [True, False]

    # Bad input is refused before sending, saying what to do; the form stays open.
    form.title.setText("Harvest service")
    for latitude, longitude, said in (
        ("91", "-0.1870", "Latitude must be a number from -90 to 90 (e.g. 5.6037)"),
        ("north", "-0.1870", "Latitude must be a number from -90 to 90"),
        ("5.6037", "200", "Longitude must be a number from -180 to 180 (e.g. -0.1870)"),
        ("5.6037", "", "Give both latitude and longitude of the meeting place"),
    ):
        form.latitude.setText(latitude)
        form.longitude.setText(longitude)
        save(qtbot, window, form)
        assert said in form.error.text() and form.isVisible(), (latitude, longitude)
        if latitude == "north":
            assert form.grab().save(str(artefact_dir(tmp_path) / "meeting_form_refused.png"))
    form.latitude.setText("5,6037")  # a decimal comma is a number too
    form.longitude.setText("-0.1870")
    form.ends.setDateTime(form.starts.dateTime().addSecs(-60))
    save(qtbot, window, form)
    assert form.error.text() == "The meeting must end after it starts: change Ends."
    form.ends.setDateTime(form.starts.dateTime().addSecs(3 * 3600))
    form.late.setDateTime(form.ends.dateTime().addSecs(60))
    save(qtbot, window, form)
    assert "Late after must be between" in form.error.text()
    assert window.client.meetings() == []  # nothing was sent

    form.late.setDateTime(form.starts.dateTime().addSecs(600))
    # Nobody listed, Everyone not ticked: its kiosks would hold nobody, so the form asks.
    assert form.error.text().startswith("Say who is expected: list ministries or people")
    save(qtbot, window, form)
    assert form.isVisible() and window.client.meetings() == []
    form.everyone.setChecked(True)
    assert form.error.text() == ""  # a shown refusal goes once the fields are right
    assert form.fields()["open_to_everyone"] is True
    form.everyone.setChecked(False)
    form.radius.setValue(250)
    form.ministries.setText("Choir")
    form.people.set_chosen(ben, True)
    assert form.people.summary.text() == "1 chosen by name."
    form.kiosks.set_chosen(hall, True)
    form.kiosks.set_chosen(door, True)
    assert form.kiosks.summary.text() == "Only the 2 ticked kiosks take its check-ins."
    form.kiosks.set_chosen(door, False)
    assert form.kiosks.summary.text() == "Only the ticked kiosk takes its check-ins."
    form.qr_policy.setCurrentIndex(form.qr_policy.findData("max_scans"))
    assert form.qr_max_scans.isVisibleTo(form) and not form.qr_minutes.isVisibleTo(form)
    form.qr_max_scans.setValue(40)
    form.qr_rotation.setValue(20)
    form.liveness.setCurrentIndex(form.liveness.findData("always"))
    form.resize(form.sizeHint())
    assert form.grab().save(str(artefact_dir(tmp_path) / "meeting_form.png"))
    save(qtbot, window, form)
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=WAIT_MS)
    made = only_meeting(window, "Harvest service")
    assert (made["latitude"], made["longitude"], made["radius_m"]) == (5.6037, -0.187, 250)
    assert made["expected_ministries"] == ["Choir"] and made["expected_member_ids"] == [ben]
    assert made["kiosk_ids"] == [hall] and made["late_after"] is not None
    assert made["open_to_everyone"] is False
    assert (made["qr_policy"], made["qr_max_scans"], made["qr_rotation_seconds"]) == (
        "max_scans",
        40,
        20,
    )
    assert made["liveness"] == "always" and made["qr_valid_minutes"] is None
    qtbot.waitUntil(lambda: meetings.current() is not None, timeout=WAIT_MS)
    assert "Harvest service is scheduled: start it" in meetings.details.text()

    # Edit: the form shows what was saved; clearing the map position removes it.
    form = open_form(qtbot, meetings, meeting=True)
    assert (form.latitude.text(), form.longitude.text()) == ("5.6037", "-0.187")
    assert form.people.chosen_ids() == [ben] and form.qr_max_scans.value() == 40
    assert form.kiosks.chosen_ids() == [hall] and form.marks_late.isChecked()
    form.latitude.clear()
    form.longitude.clear()
    form.people.set_chosen(ben, False)
    form.people.set_chosen(ada, True)
    form.qr_policy.setCurrentIndex(form.qr_policy.findData("minutes"))
    form.qr_minutes.setValue(45)
    form.kiosks.set_chosen(hall, False)
    form.kiosks.set_chosen(door, True)
    # Unticking "Mark people late after" clears the time, whatever the (now greyed) field says.
    form.marks_late.setChecked(False)
    assert not form.late.isEnabled()
    form.late.setDateTime(form.ends.dateTime().addSecs(3600))
    save(qtbot, window, form)
    changed = window.client.meeting(made["id"])
    assert changed["latitude"] is None and changed["longitude"] is None
    assert changed["kiosk_ids"] == [door] and changed["late_after"] is None
    assert changed["expected_member_ids"] == [ada]
    assert (changed["qr_policy"], changed["qr_valid_minutes"], changed["qr_max_scans"]) == (
        "minutes",
        45,
        None,
    )

    # A meeting without a late-after time keeps none when edited for something else; a
    # revoked kiosk it names is shown, marked, so it can be unticked.
    window.client.update_meeting(made["id"], kiosk_ids=[door, gone])
    meetings.refresh()
    qtbot.waitUntil(lambda: meetings.current()["kiosk_ids"] == [door, gone], timeout=WAIT_MS)  # type: ignore[index]
    form = open_form(qtbot, meetings, meeting=True)
    assert not form.marks_late.isChecked() and not form.late.isEnabled()
    assert [item.text() for item in form.kiosks.items()] == [
        "Front door",
        "Old tablet (revoked)",
        "Side hall",
    ]
    form.kiosks.set_chosen(gone, False)
    form.description.setText("Bring a friend")
    save(qtbot, window, form)
    edited = window.client.meeting(made["id"])
    assert edited["description"] == "Bring a friend" and edited["late_after"] is None
    assert edited["kiosk_ids"] == [door]

    # What only the server can judge comes back as its sentence: the meeting ended meanwhile.
    form = open_form(qtbot, meetings, meeting=True)
    window.client.meeting_action(made["id"], "start")
    window.client.meeting_action(made["id"], "end")
    form.title.setText("Harvest, renamed")
    save(qtbot, window, form)
    assert meetings.status.text() == (
        "This meeting is ended, so it cannot be changed: reopen it to take more check-ins, "
        "or copy it to a new meeting."
    )
    assert window.client.meeting(made["id"])["title"] == "Harvest service"


def test_start_end_reopen_cancel_and_copy_follow_the_life_cycle(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.Yes]

    def question(_parent: object, _title: str, text: str) -> QMessageBox.StandardButton:
        asked.append(text)
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    sign_in(qtbot, window, backend)
    now = datetime.now(UTC)
    ben = window.client.create_member("Ben Weekly", "Ushers")["id"]
    window.client.create_meeting(
        title="Past vigil",
        starts_at=(now - timedelta(hours=3)).isoformat(),
        ends_at=(now - timedelta(hours=1)).isoformat(),
        open_to_everyone=True,
    )
    window.client.create_meeting(
        title="Weekly prayer",
        starts_at=(now - timedelta(minutes=5)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
        expected_member_ids=[ben],
        latitude=5.6,
        longitude=-0.18,
        qr_rotation_seconds=20,
    )
    window.show_screen("Meetings")
    meetings = window.meetings
    buttons = meetings.buttons

    def enabled() -> set[str]:
        return {label for label, button in buttons.items() if button.isEnabled()}

    select(qtbot, meetings, "Weekly prayer")
    assert {"Start", "Cancel meeting", "Edit…", "Copy"} <= enabled()
    assert not {"End", "Reopen"} & enabled()
    # Ending stops check-ins: the admin is asked first, and No changes nothing.
    buttons["Start"].click()
    qtbot.waitUntil(lambda: (meetings.current() or {}).get("status") == "active", timeout=WAIT_MS)  # type: ignore[attr-defined]
    answer[0] = QMessageBox.StandardButton.No
    buttons["End"].click()
    assert asked[-1] == (
        "End Weekly prayer now? Kiosks and phones stop taking its check-ins (Reopen undoes it)."
    )
    assert meetings.status.text() == "Weekly prayer: nothing changed."
    idle(qtbot, window)
    assert only_meeting(window, "Weekly prayer")["status"] == "active"
    answer[0] = QMessageBox.StandardButton.Yes
    for label, status in (("End", "ended"), ("Reopen", "active")):
        buttons[label].click()
        qtbot.waitUntil(
            lambda s=status: (meetings.current() or {}).get("status") == s,  # type: ignore[attr-defined]
            timeout=WAIT_MS,
        )
    assert meetings.status.text() == "Weekly prayer: reopened."
    assert {"End", "Cancel meeting", "Show QR"} <= enabled() and "Reopen" not in enabled()

    # The meeting's own QR rotation decides when the full-screen code is fetched again.
    meetings.show_qr()
    qr = meetings.qr_screen
    assert qr is not None
    qtbot.waitUntil(lambda: qr.fetched == 1, timeout=WAIT_MS)
    assert qr._timer.interval() == 20_000
    qr.close()

    # An ended meeting whose end time has passed reopens for one more hour.
    select(qtbot, meetings, "Past vigil")
    for label in ("Start", "End"):
        buttons[label].click()
        idle(qtbot, window)
    select(qtbot, meetings, "Past vigil")
    assert "Edit…" not in enabled() and "Reopen" in enabled()
    buttons["Reopen"].click()
    qtbot.waitUntil(lambda: "reopened until" in meetings.status.text(), timeout=WAIT_MS)
    assert "(its end time had passed)" in meetings.status.text()
    vigil = only_meeting(window, "Past vigil")
    ends = datetime.fromisoformat(vigil["ends_at"])
    assert vigil["status"] == "active" and timedelta(minutes=55) < ends - now < timedelta(
        hours=1, minutes=5
    )

    # Cancel, then copy: a new scheduled meeting a week later with the same people and place.
    select(qtbot, meetings, "Weekly prayer")
    buttons["Cancel meeting"].click()
    assert asked[-1].startswith("Cancel Weekly prayer? No one can check in to it")
    qtbot.waitUntil(
        lambda: (meetings.current() or {}).get("status") == "cancelled",  # type: ignore[attr-defined]
        timeout=WAIT_MS,
    )
    assert enabled() == {"Copy", "Show QR", "Links…", "Follow live", "Refresh", "New…"}
    assert "copy it to a new meeting" in meetings.details.text()
    buttons["Copy"].click()
    qtbot.waitUntil(lambda: meetings.status.text().startswith("Copied"), timeout=WAIT_MS)
    copies = [m for m in window.client.meetings() if m["title"] == "Weekly prayer"]
    (copy,) = [m for m in copies if m["status"] == "scheduled"]
    original = next(m for m in copies if m["status"] == "cancelled")
    shift = datetime.fromisoformat(copy["starts_at"]) - datetime.fromisoformat(
        original["starts_at"]
    )
    assert shift == timedelta(days=7)
    assert copy["expected_member_ids"] == [ben] and copy["latitude"] == 5.6
    qtbot.waitUntil(lambda: (meetings.current() or {}).get("id") == copy["id"], timeout=WAIT_MS)  # type: ignore[attr-defined]
    assert meetings.status.text() == (
        f"Copied as a new meeting on {local(copy['starts_at'])}: "
        "edit it to change its time or title."
    )


def test_an_unchanged_time_edit_keeps_the_form_in_local_time(qtbot: QtBot) -> None:
    """The form shows times in this computer's zone and sends them as UTC instants."""
    start = datetime(2026, 5, 3, 9, 30, tzinfo=UTC)
    meeting = {
        "title": "Zone check",
        "description": "",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "late_after": None,
        "location_name": "",
        "latitude": None,
        "longitude": None,
        "radius_m": 100,
        "expected_ministries": [],
        "expected_member_ids": ["unlisted-id"],
        "kiosk_ids": ["unlisted-kiosk"],
        "qr_policy": "until_end",
        "qr_max_scans": None,
        "qr_valid_minutes": None,
        "qr_rotation_seconds": 30,
        "liveness": "never",
        "open_to_everyone": False,
    }
    form = MeetingDialog(meeting)  # type: ignore[arg-type]
    qtbot.addWidget(form)
    assert form.starts.dateTime() == QDateTime.fromSecsSinceEpoch(int(start.timestamp()))
    fields = form.fields()
    assert datetime.fromisoformat(fields["starts_at"]) == start
    # A meeting without a late-after time is saved without one (nobody is marked late).
    assert fields["late_after"] is None and not form.marks_late.isChecked()
    form.marks_late.setChecked(True)
    assert form.fields()["late_after"] == (start + timedelta(minutes=15)).isoformat()
    # Someone chosen before but not listed now (made inactive) is kept, not dropped unseen;
    # so is a kiosk.
    assert fields["expected_member_ids"] == ["unlisted-id"] and fields["liveness"] == "never"
    assert fields["kiosk_ids"] == ["unlisted-kiosk"]
    assert form.liveness.currentText() == "Never"


def present(backend: LiveBackend, meeting: str, url: str) -> int:
    """What a screen gets opening `url` (a display link): the status of the page's fetch."""
    key = url.split("#key=", 1)[1]
    with httpx.Client(base_url=backend.url, timeout=30) as screen:
        return screen.get(f"/api/present/{meeting}", headers={"X-Display-Key": key}).status_code


def test_display_links_are_made_listed_and_revoked_one_by_one(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend
) -> None:
    sign_in(qtbot, window, backend)
    starts = datetime.now(UTC) - timedelta(minutes=5)
    meeting = window.client.create_meeting(
        title="Harvest <i>night</i>",
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=2)).isoformat(),
        open_to_everyone=True,
    )
    window.show_screen("Meetings")
    meetings = window.meetings
    meetings.refresh()
    select(qtbot, meetings, "Harvest <i>night</i>")
    meetings.buttons["Links…"].click()
    dialog = meetings.display_links
    assert dialog is not None
    try:
        assert dialog.isVisible()
        idle(qtbot, window)
        assert dialog.table.rowCount() == 0 and not dialog.buttons["Revoke"].isEnabled()
        assert "0 display links of this meeting still working" in dialog.status.text()

        urls = []
        for made in (1, 2):
            dialog.buttons["New link"].click()
            qtbot.waitUntil(lambda n=made: dialog.table.rowCount() == n, timeout=WAIT_MS)
            idle(qtbot, window)
            assert f"/present?meeting={meeting['id']}#key=" in dialog.link.text()
            assert "it is not shown again" in dialog.status.text()
            urls.append(dialog.link.text())
        first = next(
            link
            for link in dialog.links
            if link["created_at"] == min(link["created_at"] for link in dialog.links)
        )
        assert [present(backend, meeting["id"], url) for url in urls] == [200, 200]
        dialog.refresh()
        idle(qtbot, window)
        assert all(dialog.table.item(row, 3).text() != "not yet" for row in range(2))

        (row,) = [
            r
            for r in range(2)
            if dialog.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == first["id"]
        ]
        dialog.table.selectRow(row)
        assert dialog.buttons["Revoke"].isEnabled()
        dialog.buttons["Revoke"].click()
        qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=WAIT_MS)
        idle(qtbot, window)
        assert "is revoked: its screen stops now" in dialog.status.text()
        assert [link["id"] for link in dialog.links] != [first["id"]]
        # The revoked link's screen is refused at its next fetch; the other goes on.
        assert [present(backend, meeting["id"], url) for url in urls] == [401, 200]
    finally:
        dialog.close()
