"""Frame sources on real files: video, folder, and a camera that fails and recovers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.app import open_source
from kiosk.capture.camera import (
    ABSENT_AFTER,
    Backoff,
    Capture,
    camera_source,
    folder_source,
    video_source,
)
from kiosk.capture.frames import LatestFrame
from kiosk.errors import SourceError
from kiosk.events import EventBus, KioskEvent, SourceState, SourceStateChanged
from tests.kiosk.conftest import photo
from tests.kiosk.media import fit, write_folder, write_video


def _wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _states(events: list[KioskEvent]) -> list[SourceState]:
    return [e.state for e in events if isinstance(e, SourceStateChanged)]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = [fit(photo(name)) for name in ("obama", "biden") for _ in range(10)]
    return write_video(tmp_path_factory.mktemp("video") / "two.avi", frames, fps=30)


def _drain(frames: LatestFrame, until_seq: int) -> list[int]:
    seen, after = [], 0
    while after < until_seq:
        frame = frames.get(after, timeout=5)
        assert frame is not None
        seen.append(frame.seq)
        after = frame.seq
    return seen


def test_video_plays_at_its_rate_then_reports_stopped(video: Path) -> None:
    bus, heard = EventBus(), []
    bus.subscribe(heard.append)
    source = video_source(video, events=bus)
    started = time.monotonic()
    source.start()
    _wait_for(lambda: source.state is SourceState.STOPPED)
    elapsed = time.monotonic() - started
    source.stop()
    assert source.frames.seq == 20
    assert elapsed > 0.5  # 20 frames at 30 fps is ~0.66 s, not as fast as decoding
    assert _states(heard) == [SourceState.STARTING, SourceState.LIVE, SourceState.STOPPED]
    last = source.frames.latest()
    assert last is not None and last.size == (640, 480)


def test_folder_shows_each_image_repeat_times(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "faces", [photo("obama"), photo("biden")])
    (folder / "notes.txt").write_text("not an image")
    source = folder_source(folder, fps=200, repeat=3)
    source.start()
    _wait_for(lambda: source.state is SourceState.STOPPED)
    source.stop()
    assert source.frames.seq == 6


def test_bad_paths_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="holds no images"):
        folder_source(tmp_path)
    with pytest.raises(SourceError, match="No video file"):
        video_source(tmp_path / "missing.avi")


class _FlakyCamera:
    """A real VideoCapture on a real video that fails the way a USB camera does."""

    opens = 0
    released = 0

    def __init__(self, video: Path, read_before_unplug: int) -> None:
        type(self).opens += 1
        self._capture = cv2.VideoCapture(str(video))
        self._left = read_before_unplug
        if type(self).opens == 1:
            raise OSError("no such device")  # not there at start

    def isOpened(self) -> bool:
        return bool(self._capture.isOpened())

    def read(self) -> tuple[bool, np.ndarray | None]:
        if type(self).opens == 2:
            self._left -= 1
            if self._left < 0:
                return False, None  # unplugged mid-stream
        ok, image = self._capture.read()
        if not ok:  # a camera never ends: loop the file
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        time.sleep(0.005)
        return ok, image

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return float(self._capture.get(prop))

    def release(self) -> None:
        type(self).released += 1
        self._capture.release()


def test_camera_that_raises_then_unplugs_is_reopened_and_recovers(video: Path) -> None:
    bus, heard = EventBus(), []
    bus.subscribe(heard.append)
    opened = threading.Event()

    def factory(device: int | str) -> Capture:
        camera = _FlakyCamera(video, read_before_unplug=5)
        opened.set()
        return camera

    source = camera_source(
        0, capture_factory=factory, backoff=Backoff(first=0.01, limit=0.05), events=bus
    )
    source.start()
    _wait_for(lambda: _FlakyCamera.opens >= 3 and source.frames.seq >= 15)
    assert source.state is SourceState.LIVE
    source.stop()
    assert source.state is SourceState.STOPPED
    assert _FlakyCamera.released == 2  # both captures that opened were released
    states = _states(heard)
    assert states[:8] == [
        SourceState.STARTING,
        SourceState.LOST,  # raised on open
        SourceState.REOPENING,
        SourceState.LIVE,
        SourceState.LOST,  # unplugged mid-stream
        SourceState.REOPENING,
        SourceState.LIVE,
        SourceState.STOPPED,
    ]
    lost = [e for e in heard if isinstance(e, SourceStateChanged) and e.state is SourceState.LOST]
    assert "no such device" in lost[0].detail
    assert "unplugged" in lost[1].detail


class _Closed:
    """A capture that never opens, as OpenCV's is for a camera that is not there (or busy)."""

    def __init__(self) -> None:
        self.released = False

    def isOpened(self) -> bool:
        return False

    def read(self) -> tuple[bool, None]:
        raise AssertionError("never read a closed camera")

    def set(self, prop: int, value: float) -> bool:
        return False

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.released = True


def test_no_camera_at_all_is_said_plainly_after_a_few_tries_then_looked_for_quietly(
    video: Path,
) -> None:
    bus, heard = EventBus(), []
    bus.subscribe(heard.append)
    made: list[Capture] = []
    plugged_in = threading.Event()

    def factory(device: int | str) -> Capture:
        made.append(cv2.VideoCapture(str(video)) if plugged_in.is_set() else _Closed())
        return made[-1]

    # /dev/video-none: a device node that is not there (the camera is not connected).
    source = camera_source(
        "/dev/video-none", capture_factory=factory, backoff=Backoff(0.01, 0.02), events=bus
    )
    started = time.monotonic()
    source.start()
    assert time.monotonic() - started < 0.5  # never blocks its caller
    _wait_for(lambda: source.state is SourceState.ABSENT)
    assert len(made) == ABSENT_AFTER
    assert _states(heard)[-1] is SourceState.ABSENT
    told = len(heard)
    _wait_for(lambda: len(made) >= ABSENT_AFTER + 5)  # it keeps looking ...
    assert len(heard) == told  # ... without a word on every try
    assert all(isinstance(c, _Closed) and c.released for c in made)
    assert source.frames.latest() is None
    plugged_in.set()
    _wait_for(lambda: source.state is SourceState.LIVE)
    source.stop()
    assert source.frames.latest() is not None


def test_a_camera_that_is_there_but_never_opens_says_so_on_every_try() -> None:
    bus, heard = EventBus(), []
    bus.subscribe(heard.append)
    made: list[_Closed] = []

    def factory(device: int | str) -> Capture:
        made.append(_Closed())
        return made[-1]

    # /dev/null stands for a device node that is there (a camera another program holds).
    source = camera_source(
        "/dev/null", capture_factory=factory, backoff=Backoff(0.01, 0.02), events=bus
    )
    source.start()
    _wait_for(lambda: len(made) >= ABSENT_AFTER + 2)
    source.stop()
    assert SourceState.ABSENT not in _states(heard)
    lost = [e for e in heard if isinstance(e, SourceStateChanged) and e.state is SourceState.LOST]
    assert len(lost) >= ABSENT_AFTER and "could not be opened" in lost[0].detail
    assert all(camera.released for camera in made)


def test_a_source_is_chosen_from_the_command_line_text(video: Path, tmp_path: Path) -> None:
    bus = EventBus()
    folder = write_folder(tmp_path / "faces", [photo("biden")])
    described = [
        open_source(spec, bus).description for spec in ("0", "/dev/video2", str(folder), str(video))
    ]
    assert described == ["camera 0", "camera /dev/video2", "folder faces", "video two.avi"]
    with pytest.raises(SourceError, match="neither a camera"):
        open_source(str(tmp_path / "nothing-here"), bus)
