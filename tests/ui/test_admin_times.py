"""Admin screens show the server's UTC times in this computer's time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.admin.api_types import Badge, Kiosk
from ui.admin.badges import describe
from ui.admin.kiosks import row_of
from ui.admin.report_parts import when
from ui.admin.times import CLOCK, ago, local

SEEN = "2026-11-29T10:05:00+00:00"  # 15:35 in India (UTC+05:30, no daylight saving)


@pytest.fixture
def india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_server_times_read_in_the_computer_s_zone(india: None) -> None:
    assert local(SEEN) == "2026-11-29 15:35"
    assert local(SEEN, CLOCK) == "15:35"
    assert local(None, missing="never") == "never"
    assert when(SEEN) == "Sun 29 Nov 2026 15:35"
    assert when("2026-11-29T20:00:00+00:00", with_time=False) == "Mon 30 Nov 2026"


def test_kiosk_rows_and_badge_lines_use_local_time(india: None) -> None:
    kiosk = Kiosk(
        id="k",
        name="Hall",
        created_at=SEEN,
        revoked_at=None,
        last_seen_at=SEEN,
        app_version="1",
        model_id="vectron",
        gallery_version=3,
        queue_depth=0,
        camera_state="ok",
        clock_drift_s=0.2,
        health="online",
        model_matches=True,
        gallery_synced_at=None,
        gallery_people=0,
        gallery_templates=0,
        gallery_meetings=[],
    )
    assert row_of(kiosk, now=datetime(2026, 11, 29, 10, 9, 30, tzinfo=UTC))[1] == (
        "2026-11-29 15:35 (4 min ago)"
    )
    assert row_of(kiosk)[8] == "nothing yet: it has not synced its gallery"
    assert row_of({**kiosk, "last_seen_at": None})[1] == "never"
    assert row_of({**kiosk, "clock_drift_s": -0.04})[5] == "0.0"  # not "-0.0"
    assert row_of({**kiosk, "clock_drift_s": None})[5] == "-"
    badges = [
        Badge(id="b2", member_id="m", issued_at=SEEN, revoked_at=None, token=None),
        Badge(id="b1", member_id="m", issued_at=SEEN, revoked_at=SEEN, token=None),
    ]
    assert describe(badges) == (
        "issued 2026-11-29 15:35 (working)\nissued 2026-11-29 15:35, revoked 2026-11-29 15:35"
    )


def test_a_kiosk_s_last_sync_reads_as_an_age() -> None:
    seen = datetime.fromisoformat(SEEN)
    for elapsed, said in (
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=11, seconds=5), "11 min ago"),
        (timedelta(hours=2), "2 h ago"),
        (timedelta(hours=3, minutes=7), "3 h 7 min ago"),
        (timedelta(days=3, hours=1), "3 days ago"),
    ):
        assert ago(SEEN, now=seen + elapsed) == said
