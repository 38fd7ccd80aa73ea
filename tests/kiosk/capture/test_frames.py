"""The one-slot mailbox: readers get the newest frame, never a queue."""

from __future__ import annotations

import threading

import numpy as np

from kiosk.capture.frames import LatestFrame


def _image(value: int) -> np.ndarray:
    return np.full((4, 6, 3), value, np.uint8)


def test_put_overwrites_so_a_slow_reader_gets_only_the_newest() -> None:
    slot = LatestFrame()
    for value in range(5):
        slot.put(_image(value))
    frame = slot.get(after=0, timeout=0)
    assert frame is not None
    assert frame.seq == 5
    assert int(frame.image[0, 0, 0]) == 4
    assert frame.size == (6, 4)


def test_get_waits_for_something_newer_and_times_out_without_it() -> None:
    slot = LatestFrame()
    slot.put(_image(1))
    assert slot.get(after=1, timeout=0.05) is None
    timer = threading.Timer(0.05, slot.put, args=(_image(2),))
    timer.start()
    frame = slot.get(after=1, timeout=2.0)
    timer.join()
    assert frame is not None and frame.seq == 2


def test_latest_does_not_wait() -> None:
    slot = LatestFrame()
    assert slot.latest() is None
    slot.put(_image(7))
    latest = slot.latest()
    assert latest is not None and latest.seq == 1 == slot.seq
