"""SyncStatus: snapshots, change callbacks from several threads, failing subscribers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from kiosk.syncing.status import SyncSnapshot, SyncStatus


def test_update_notifies_subscribers_with_the_new_snapshot() -> None:
    status = SyncStatus()
    heard: list[SyncSnapshot] = []
    status.subscribe(heard.append)
    now = datetime.now(UTC)
    after = status.update(connection="online", queue_depth=3, last_sync=now)
    assert heard == [after]
    assert status.snapshot.online
    assert (status.snapshot.queue_depth, status.snapshot.last_sync) == (3, now)


def test_an_update_that_changes_nothing_is_not_announced() -> None:
    status = SyncStatus(SyncSnapshot(connection="offline"))
    heard: list[SyncSnapshot] = []
    status.subscribe(heard.append)
    status.update(connection="offline")
    assert heard == []


def test_unsubscribe_stops_the_callbacks() -> None:
    status = SyncStatus()
    heard: list[SyncSnapshot] = []
    unsubscribe = status.subscribe(heard.append)
    status.update(queue_depth=1)
    unsubscribe()
    unsubscribe()  # twice is harmless
    status.update(queue_depth=2)
    assert [s.queue_depth for s in heard] == [1]


def test_a_failing_subscriber_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    status = SyncStatus()
    heard: list[int] = []

    def broken(_: SyncSnapshot) -> None:
        raise RuntimeError("view gone")

    status.subscribe(broken)
    status.subscribe(lambda s: heard.append(s.queue_depth))
    status.update(queue_depth=5)
    assert heard == [5]
    assert "subscriber failed" in caplog.text


def test_an_unknown_field_is_refused_and_changes_nothing() -> None:
    status = SyncStatus()
    with pytest.raises(TypeError):
        status.update(queue_dept=5)
    assert status.snapshot == SyncSnapshot()


def test_updates_from_many_threads_are_delivered_in_order() -> None:
    """The last snapshot a subscriber hears is the current one, whatever the threads."""
    status = SyncStatus()
    heard: list[SyncSnapshot] = []
    status.subscribe(heard.append)

    def bump(offset: int) -> None:
        for i in range(200):
            status.update(queue_depth=offset + i + 1)

    threads = [threading.Thread(target=bump, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert heard[-1] == status.snapshot
    assert len(heard) == 800
