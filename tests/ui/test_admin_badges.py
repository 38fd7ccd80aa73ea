"""The Badges screen against a real backend: issue, reissue and revoke change what the
server accepts; the sheet, printed or saved as PDF, carries readable QR codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from kiosk.admin.api_types import BadgeCard, Member
from kiosk.capture.qr import read_qr_codes
from tests.kiosk.backend import LiveBackend
from tests.server.kiosk_utils import pair_kiosk
from tests.server.services.test_checkin_upload import item, upload
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, sign_in, window
from ui.admin.badge_sheet import save_pdf, sheet_printer
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]
RENDER_DPI = 150


def pdf_pages(path: Path) -> list[tuple[np.ndarray[Any, np.dtype[np.uint8]], str]]:
    """Each page of the PDF rendered to a grey image at RENDER_DPI, with its text."""
    document = QPdfDocument()
    assert document.load(str(path)) == QPdfDocument.Error.None_, path
    pages = []
    for page in range(document.pageCount()):
        points = document.pagePointSize(page)
        size = QSize(
            round(points.width() * RENDER_DPI / 72), round(points.height() * RENDER_DPI / 72)
        )
        image = QImage(size, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))  # the page, under what the PDF paints
        painter = QPainter(image)
        painter.drawImage(0, 0, document.render(page, size))
        painter.end()
        image = image.convertToFormat(QImage.Format.Format_Grayscale8)
        grey = np.frombuffer(image.constBits(), np.uint8).reshape(
            image.height(), image.bytesPerLine()
        )[:, : image.width()]
        pages.append((grey.copy(), document.getAllText(page).text()))
    document.close()
    return pages


def tokens_of(window: AdminWindow, member_id: str) -> list[str]:
    return [b["token"] for b in window.client.badges(member_id) if b["token"]]


def badge_checkin(backend: LiveBackend, member_id: str, token: str) -> str:
    """What the server answers a kiosk's badge+face check-in made with `token`."""
    kiosk = pair_kiosk(backend.admin, backend.headers)
    meeting = backend.meeting()
    fields = {"method": "badge_face", "margin": None, "badge": token}
    result = upload(backend.admin, kiosk, [item(backend.admin, meeting, member_id, **fields)])[0]
    return str(result.get("reason") or result["result"])


def choir(qtbot: QtBot, window: AdminWindow, names: list[str]) -> list[Member]:
    """Members of one ministry, each issued a badge through the screen."""
    members = [window.client.create_member(name, "Badge Choir") for name in names]
    screen = window.badges
    for member in members:
        window.open_badges(member)
        idle(qtbot, window)
        screen.buttons["Issue / reissue"].click()
        qtbot.waitUntil(lambda: "(working)" in screen.badges.text(), timeout=WAIT_MS)
    return members


def assert_sheet(path: Path, window: AdminWindow, members: list[Member]) -> None:
    pages = pdf_pages(path)
    edge = round(8 / 25.4 * RENDER_DPI)  # printers cannot reach the page's outer few mm
    for grey, _ in pages:
        border = np.concatenate([grey[:edge].ravel(), grey[-edge:].ravel()])
        sides = np.concatenate([grey[:, :edge].ravel(), grey[:, -edge:].ravel()])
        assert border.min() > 240 and sides.min() > 240, "something is painted in the margin"
    found = [code for grey, _ in pages for code in read_qr_codes(grey)]
    wanted = [token for m in members for token in tokens_of(window, m["id"])]
    assert len(wanted) == len(members)
    assert sorted(found) == sorted(wanted)
    text = " ".join(t for _, t in pages)
    for member in members:
        assert member["full_name"] in text and member["member_code"] in text


def test_the_saved_and_printed_sheets_carry_every_members_readable_badge(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    names = ["Ama Mensah", "Kofi Boateng", "Esi Owusu", "Yaw Darko"]
    members = choir(qtbot, window, names)
    window.client.create_member("No Badge Yet", "Badge Choir")  # left off the sheet
    screen = window.badges
    screen.scope.setCurrentIndex(1)  # the whole ministry
    screen.export_pdf(tmp_path / "choir.pdf")
    qtbot.waitUntil(lambda: screen.status.text().startswith("Saved"), timeout=WAIT_MS)
    assert screen.status.text() == (
        f"Saved {tmp_path / 'choir.pdf'}. 4 badges on 1 page. Left out, having no badge "
        "yet: No Badge Yet. Tick Issue the missing badges to include them."
    )
    assert_sheet(tmp_path / "choir.pdf", window, members)

    printer = sheet_printer()  # what the print dialog starts from
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))
    screen.print_to(printer)
    qtbot.waitUntil(lambda: screen.status.text().startswith("Sent to"), timeout=WAIT_MS)
    assert_sheet(tmp_path / "printed.pdf", window, members)

    screen.scope.setCurrentIndex(0)  # only the person shown
    screen.export_pdf(tmp_path / "one.pdf")
    qtbot.waitUntil(lambda: "1 badge on 1 page" in screen.status.text(), timeout=WAIT_MS)
    assert_sheet(tmp_path / "one.pdf", window, members[-1:])
    assert window.grab().save(str(artefact_dir(tmp_path) / "badges_1280x800.png"))

    # Everyone, issuing the missing badges first: no one is left out.
    window.client.create_member("Usher Without Badge", "Ushers")
    screen.scope.setCurrentIndex(2)
    screen.issue_missing.setChecked(True)
    screen.export_pdf(tmp_path / "everyone.pdf")
    qtbot.waitUntil(lambda: "Issued new badges" in screen.status.text(), timeout=WAIT_MS)
    assert screen.status.text() == (
        f"Saved {tmp_path / 'everyone.pdf'}. 6 badges on 1 page. Issued new badges to "
        "No Badge Yet, Usher Without Badge."
    )
    everyone = window.client.all_members(status="active")
    assert all(window.client.badges(m["id"]) for m in everyone)
    assert_sheet(tmp_path / "everyone.pdf", window, everyone)


def test_reissue_and_revoke_through_the_screen_change_what_the_server_accepts(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, tmp_path: Path
) -> None:
    sign_in(qtbot, window, backend)
    (ama,) = choir(qtbot, window, ["Ama Reissued"])
    window.client.set_consent(ama["id"], True)  # (a check-in needs a consenting member)
    screen = window.badges
    (first,) = tokens_of(window, ama["id"])
    screen.buttons["Issue / reissue"].click()
    qtbot.waitUntil(lambda: screen.badges.text().count("\n") == 1, timeout=WAIT_MS)
    assert "revoked" in screen.badges.text().splitlines()[1]
    (second,) = tokens_of(window, ama["id"])
    assert second != first
    assert badge_checkin(backend, ama["id"], first) == "This badge has been revoked."
    assert badge_checkin(backend, ama["id"], second) == "recorded"

    screen.buttons["Revoke"].click()
    qtbot.waitUntil(lambda: "(working)" not in screen.badges.text(), timeout=WAIT_MS)
    assert screen.status.text().startswith("The badge is revoked")
    assert tokens_of(window, ama["id"]) == []
    assert badge_checkin(backend, ama["id"], second) == "This badge has been revoked."
    screen.buttons["Revoke"].click()
    qtbot.waitUntil(lambda: "no working badge" in screen.status.text(), timeout=WAIT_MS)

    # Nothing to print: the sentence says what to do, and no file is written.
    screen.export_pdf(tmp_path / "none.pdf")
    qtbot.waitUntil(lambda: "issue a badge first" in screen.status.text(), timeout=WAIT_MS)
    assert not (tmp_path / "none.pdf").exists()


def test_a_long_sheet_breaks_onto_pages_and_every_code_reads(qtbot: QtBot, tmp_path: Path) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    rng = np.random.default_rng(7)
    cards = [
        BadgeCard(
            full_name=f"Member {n:02d}",
            ministry="Ushers",
            member_code=f"U{n:04d}",
            token="".join(rng.choice(list(alphabet), size=273)),  # a real badge's length
        )
        for n in range(11)
    ]
    assert save_pdf(cards, "Sonta badges: Ushers", tmp_path / "long.pdf") == 2
    pages = pdf_pages(tmp_path / "long.pdf")
    assert len(pages) == 2 and "page 2 of 2" in pages[1][1]
    found = [code for grey, _ in pages for code in read_qr_codes(grey)]
    assert sorted(found) == sorted(c["token"] for c in cards)
    assert "Member 10" in pages[1][1] and "Member 10" not in pages[0][1]


__all__ = ["window"]  # a fixture from test_admin_screens, used above
