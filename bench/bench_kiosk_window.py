"""Kiosk window benchmark: the real window over the real core, fed by a 30 fps video.

The video is ``bench_kiosk_pipeline``'s (real photos: a member steps up, another, a
stranger), played in real time by the video source into the real pipeline and local
store, with the real ``MainWindow`` painting it. Printed per configuration:

- painted frames per second while the preview is on screen (the preview's paints,
  against the video's 30 fps; a welcome or idle screen over it paints nothing), and
  frames captured per second (what the source delivered: a frame never captured cannot
  be painted, so this tells where lost preview frames go);
- box updates per second while a face is in view (the recognition thread, beside the
  painting);
- stable face -> confirmation on screen: from capture of the frame where a face became
  stable to the first paint of the message screen (median, max);
- the UI thread's longest block: lateness of a 5 ms precise timer (max, p99, median),
  and where the worst one went: the thread's own CPU, waiting for a CPU while runnable
  (the other threads starved it), or asleep though due (the GIL or another lock);
- window up: from launching ``python`` to the window's first paint, in a fresh process
  (the engine still loading is fine), median of three launches;
- idle: the whole process's CPU (capture, decoding, recognition, painting the preview)
  over a video of an empty scene with camera noise, as a share of one core.

Every row is printed for both configurations side by side.

Configurations: the offline pack (vectron), and the same under buffalo_l's compute load
(``bench/ballast.py`` stand-ins beside every detection and embedding). Targets on this
2-core machine under the ballast: preview >= 25 fps, box updated >= 15 /s, stable ->
confirmation on screen <= 250 ms median, UI never blocked > 50 ms, idle <= 15 % of one
core, window up within 2 s.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/bench_kiosk_window.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_kiosk_window.py
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from bench.ballast import Ballast, with_ballast  # noqa: E402
from bench.bench_kiosk_pipeline import (  # noqa: E402
    in_view_share,
    make_empty_video,
    make_store,
    make_video,
    side_by_side,
)
from kiosk.app import KioskCore  # noqa: E402
from kiosk.capture.camera import video_source  # noqa: E402
from kiosk.events import (  # noqa: E402
    AlreadyCheckedIn,
    CheckedIn,
    EventBus,
    FrameAnalysed,
    KioskEvent,
    PendingReview,
)
from kiosk.inference.engine import LIVE_DET_SIZE, FaceEngine  # noqa: E402
from kiosk.inference.packs import resolve_pack  # noqa: E402
from kiosk.inference.sessions import ThreadSettings  # noqa: E402
from kiosk.recognition.finder import detection_sizes  # noqa: E402
from kiosk.syncing.status import SyncStatus  # noqa: E402
from ui.flow import FlowTiming, message_for  # noqa: E402
from ui.main_window import MainWindow, WindowServices  # noqa: E402

TICK_MS = 5
STALL_S = 0.05  # --stall-trace dumps every thread's stack when a tick is this late


def thread_schedstat() -> tuple[float, float]:
    """The calling thread's (seconds on a CPU, seconds runnable but waiting for a CPU).

    Linux's per-thread ``schedstat``; (0, 0) where it is not there. What a late tick
    spent neither running nor waiting for a CPU it spent asleep: blocked on the GIL or
    another lock, since the timer itself was due.
    """
    try:
        with open("/proc/thread-self/schedstat", "rb") as stats:
            on_cpu, runqueue = stats.read().split()[:2]
    except OSError:
        return 0.0, 0.0
    return int(on_cpu) / 1e9, int(runqueue) / 1e9


class Lateness(QObject):
    """A precise timer on the UI thread; how late each tick comes is how long it was blocked.

    Each tick also records where the time went (``thread_schedstat``), so the worst
    block says whether the UI thread was starved of a CPU or held off by the GIL.
    """

    def __init__(self, stall_trace: TextIO | None = None) -> None:
        super().__init__()
        self.stall_trace = stall_trace
        self.late: list[float] = []
        self.cpu: list[float] = []  # the UI thread's own CPU between two ticks
        self.runqueue: list[float] = []  # ... and its wait for a CPU while runnable
        self._last = time.perf_counter()
        self._last_sched = thread_schedstat()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._last_sched = thread_schedstat()
        self._timer.start(TICK_MS)

    def stop(self) -> None:
        self._timer.stop()
        if self.stall_trace is not None:
            faulthandler.cancel_dump_traceback_later()

    def _on_tick(self) -> None:
        now, sched = time.perf_counter(), thread_schedstat()
        self.late.append(max(0.0, now - self._last - TICK_MS / 1000))
        self.cpu.append(sched[0] - self._last_sched[0])
        self.runqueue.append(sched[1] - self._last_sched[1])
        self._last, self._last_sched = now, sched
        if self.stall_trace is not None:
            # faulthandler's watchdog is a C thread: it dumps in the middle of a stall, even
            # one where some thread holds the GIL, which shows what each thread was doing.
            faulthandler.dump_traceback_later(STALL_S, file=self.stall_trace)

    def worst(self) -> tuple[float, float, float]:
        """The longest block as (late, own CPU, waiting for a CPU), in seconds."""
        if not self.late:
            return 0.0, 0.0, 0.0
        at = max(range(len(self.late)), key=self.late.__getitem__)
        return self.late[at], self.cpu[at], self.runqueue[at]


class GcPauses:
    """The longest garbage collection (any thread, any generation) while installed.

    A collection holds the GIL from start to end, so every other Python thread, the UI's
    included, waits it out asleep.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._started)


class VisibleClock(QObject):
    """How long a widget was on screen: painted frames per second count only that time."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.seconds = 0.0
        self._widget = widget
        self._last = time.perf_counter()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start(20)

    def stop(self) -> None:
        self._on_tick()
        self._timer.stop()

    def _on_tick(self) -> None:
        now = time.perf_counter()
        if self._widget.isVisible():
            self.seconds += now - self._last
        self._last = now


class ConfirmationClock(QObject):
    """Decision published (core thread, after the commit) -> its message on screen (UI).

    Each confirmation waits until the message screen shows *its* text: the first paint of
    the labels with that text, or, for a repeat of the message already painted (the same
    member's "Already checked in" again, which repaints nothing), the first look (every
    5 ms) that finds that painted text still on the visible screen. Pairing the n-th
    publish with the n-th paint instead charged such a repeat with the next member's
    welcome, 1.6 s later. The labels are watched: a message that replaces one already on
    screen repaints only the labels that changed, not the screen around them.
    """

    def __init__(self, window: MainWindow, *, look: bool) -> None:
        super().__init__()
        self._view = window.message
        self._published: queue.SimpleQueue[tuple[float, tuple[str, str]]] = queue.SimpleQueue()
        self._pending: list[tuple[float, tuple[str, str]]] = []  # UI thread only
        self._painted: tuple[str, str] | None = None  # the labels' texts at their last paint
        self.latencies: list[float] = []
        self.repeats = 0  # confirmations whose text was already on screen
        for label in (window.message.headline, window.message.detail):
            label.installEventFilter(self)
        self._look = QTimer(self)
        self._look.setTimerType(Qt.TimerType.PreciseTimer)
        self._look.timeout.connect(self._resolve)
        if look:  # not in the idle run: its 200 wake-ups a second are the bench's own
            self._look.start(5)

    def on_event(self, event: KioskEvent) -> None:
        """Runs on the core thread: hands the confirmation's text to the UI thread."""
        if isinstance(event, CheckedIn | AlreadyCheckedIn | PendingReview):
            message = message_for(event)
            if message is not None:
                self._published.put((time.monotonic(), (message.headline, message.detail)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self._painted = (self._view.headline.text(), self._view.detail.text())
            self._resolve(painted=True)
        return False

    def _resolve(self, *, painted: bool = False) -> None:
        while not self._published.empty():
            self._pending.append(self._published.get())
        if not self._pending or not (painted or self._view.isVisible()):
            return
        now = time.monotonic()
        waiting = []
        for published, texts in self._pending:
            if texts == self._painted:
                self.latencies.append(now - published)
                self.repeats += not painted
            else:
                waiting.append((published, texts))
        self._pending = waiting

    def unseen(self) -> int:
        """Stops looking; the confirmations whose text never reached the screen."""
        self._resolve()
        self._look.stop()
        return len(self._pending) + self._published.qsize()


def live_run(
    app: QApplication,
    engine: FaceEngine,
    folder: Path,
    video: Path,
    *,
    window_on: bool,
    idle_after: float = 600.0,
    timed: bool = True,
    stall_trace: TextIO | None = None,
) -> dict[str, float]:
    """The video through the real core, with the real window painting it or head-less.

    The window runs Qt's own event loop (a busy ``processEvents`` loop here would be
    counted as the kiosk's CPU). ``idle_after`` is how soon the idle screen replaces the
    preview with nobody in view (20 s on a kiosk). ``timed`` runs the 5 ms lateness timer
    (left out when measuring idle CPU: its 200 wake-ups a second are the bench's own).
    ``stall_trace`` receives every thread's stack whenever the timer is 50 ms late.
    """
    store, meeting = make_store(engine, folder, 1000)
    events = EventBus()
    source = video_source(video, events=events)
    kiosk = KioskCore(engine=engine, source=source, store=store, meeting=meeting, events=events)
    kiosk.pipeline.decider.gallery()  # decrypted once, as a running kiosk has it
    window = MainWindow(
        WindowServices(
            events=events,
            frames=lambda: source.frames,
            status=SyncStatus(),
            timing=FlowTiming(message=1.0, idle_after=idle_after),
        )
    )
    clock = ConfirmationClock(window, look=timed)
    events.subscribe(clock.on_event)
    boxed = [0]  # processed frames that showed a face's box

    def count_boxes(event: KioskEvent) -> None:
        if isinstance(event, FrameAnalysed) and event.faces:
            boxed[0] += 1

    events.subscribe(count_boxes)
    window.resize(1280, 800)
    if window_on:
        window.show()
    lateness = Lateness(stall_trace)
    gc_pauses = GcPauses()
    preview_clock = VisibleClock(window.live.preview)
    for _ in range(20):
        app.processEvents()
    if timed:
        lateness.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    preview_clock.start()
    kiosk.start()
    loop = QEventLoop()
    ended = QTimer()
    ended.timeout.connect(
        lambda: (
            loop.quit()
            if source.state.value == "stopped" and time.perf_counter() - started >= 1.0
            else None
        )
    )
    ended.start(50)
    with gc_pauses:
        loop.exec()
    ended.stop()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    captured = source.frames.seq
    unseen = clock.unseen()
    lateness.stop()
    preview_clock.stop()
    kiosk.stop()
    window.shutdown()
    window.close()
    window.deleteLater()
    app.processEvents()
    store.close()
    preview = window.live.preview
    committed = kiosk.pipeline.stats.commit_latencies or [float("nan")]
    shown = clock.latencies or [float("nan")]
    late = sorted(lateness.late) or [0.0]
    worst_ms = [seconds * 1000 for seconds in lateness.worst()]
    return {
        "seconds": elapsed,
        "painted_per_s": preview.painted_frames / max(preview_clock.seconds, 1e-9),
        "preview_share": preview_clock.seconds / elapsed,
        "painted_run_per_s": preview.painted_frames / elapsed,
        "captured_per_s": captured / elapsed,
        "box_updates_per_s": boxed[0] / (elapsed * in_view_share()),
        "process_cpu_share": cpu / elapsed,
        "paint_cpu_ms": preview.paint_cpu_s / max(1, preview.painted_frames) * 1000,
        "detections_per_s": kiosk.pipeline.stats.detections / elapsed,
        "committed_median_ms": statistics.median(committed) * 1000,
        "committed_max_ms": max(committed) * 1000,
        "shown_median_ms": statistics.median(shown) * 1000,
        "shown_max_ms": max(shown) * 1000,
        "confirmations": float(len(clock.latencies)),
        "repeats": float(clock.repeats),
        "unseen": float(unseen),
        "late_max_ms": late[-1] * 1000,
        "late_p99_ms": late[int(len(late) * 0.99) - 1] * 1000,
        "late_median_ms": statistics.median(late) * 1000,
        "own_cpu_max_ms": max(lateness.cpu or [0.0]) * 1000,
        "gc_max_ms": gc_pauses.longest * 1000,
        **dict(zip(("worst_ms", "worst_cpu_ms", "worst_runqueue_ms"), worst_ms, strict=True)),
    }


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication
    from ui.app import KioskController
    from ui.runtime import KioskRuntime, RuntimeOptions

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                print("UP", time.time(), flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    app = QApplication(sys.argv)
    runtime = KioskRuntime(
        RuntimeOptions(data_dir=Path({data!r}), source={video!r}, offline=True)
    )
    controller = KioskController(runtime, fullscreen=False)
    watcher = FirstPaint()
    controller.window.installEventFilter(watcher)
    controller.start()
    app.exec()
    controller.shutdown()
    """
)


def window_up_seconds(folder: Path, video: Path) -> float:
    """Launch a fresh Python that opens the kiosk window; seconds to its first paint."""
    script = CHILD.format(root=str(ROOT), data=str(folder / "up"), video=str(video))
    keys = folder / "keyring"
    keys.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "FACE_MODEL": "vectron",
        # A keyring in the bench's folder (the tests' own backend), as in the tests.
        "PYTHON_KEYRING_BACKEND": "tests.kiosk.keyring_backend.FolderKeyring",
        "SONTA_TEST_KEYRING_DIR": str(keys),
        "PYTHONPATH": str(ROOT),
    }
    launched = time.time()
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("UP ")]
    if not lines:
        raise RuntimeError(f"the window did not come up: {result.stderr[-2000:]}")
    return float(lines[0].split()[1]) - launched


def blocked_ms(run: dict[str, float]) -> float:
    """The worst block's time neither on a CPU nor runnable: the UI thread was asleep."""
    return max(0.0, run["worst_ms"] - run["worst_cpu_ms"] - run["worst_runqueue_ms"])


def rows(
    shown: dict[str, float], headless: dict[str, float], idle: dict[str, float]
) -> list[tuple[str, str]]:
    """One configuration's rows: the window run, the same video head-less, an empty scene."""
    on_screen = shown["committed_median_ms"] + shown["shown_median_ms"]
    return [
        (
            "preview painted/s, shown",
            f"{shown['painted_per_s']:.1f} (video 30 fps; preview on screen"
            f" {shown['preview_share'] * 100:.0f} % of the run)",
        ),
        ("frames captured/s", f"{shown['captured_per_s']:.1f}"),
        ("UI CPU per paint", f"{shown['paint_cpu_ms']:.2f} ms"),
        ("box updates/s, face in view", f"{shown['box_updates_per_s']:.1f}"),
        ("  head-less", f"{headless['box_updates_per_s']:.1f}"),
        ("stable -> on screen", f"median {on_screen:.0f} ms"),
        (
            "  stable -> committed",
            f"median {shown['committed_median_ms']:.0f}, max {shown['committed_max_ms']:.0f} ms",
        ),
        (
            "  committed -> on screen",
            f"median {shown['shown_median_ms']:.0f}, max {shown['shown_max_ms']:.0f} ms"
            f" (x{shown['confirmations']:.0f}, {shown['repeats']:.0f} already on screen,"
            f" {shown['unseen']:.0f} never shown)",
        ),
        (
            "UI thread blocked",
            f"max {shown['late_max_ms']:.1f}, p99 {shown['late_p99_ms']:.1f} ms",
        ),
        ("  head-less", f"max {headless['late_max_ms']:.1f}, p99 {headless['late_p99_ms']:.1f} ms"),
        ("  UI thread's own CPU", f"longest {shown['own_cpu_max_ms']:.1f} ms between ticks"),
        (
            "  worst block was",
            f"{shown['worst_cpu_ms']:.1f} ms own CPU + {shown['worst_runqueue_ms']:.1f} ms"
            f" waiting for a CPU + {blocked_ms(shown):.1f} ms asleep (GIL/locks)",
        ),
        ("  longest garbage collection", f"{shown['gc_max_ms']:.1f} ms (holds the GIL)"),
        (
            "idle CPU, empty scene",
            f"{idle['process_cpu_share'] * 100:.1f} % of a core (idle screen after 1 s)",
        ),
        ("  painted/s while idle", f"{idle['painted_run_per_s']:.1f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per session")
    parser.add_argument("--rounds", type=int, default=2, help="times the video's scenes repeat")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="empty scene length")
    parser.add_argument("--no-launch", action="store_true", help="skip the window-up launches")
    parser.add_argument(
        "--stall-trace",
        type=argparse.FileType("w"),
        help="write every thread's stack to this file whenever the UI is 50 ms late",
    )
    args = parser.parse_args()
    app = QApplication(sys.argv)
    threads = ThreadSettings(intra_op_threads=args.threads)
    engine = FaceEngine.load(
        resolve_pack("vectron", cache_dir=Path("/nonexistent")),
        threads,
        warm_up_sizes=detection_sizes(LIVE_DET_SIZE),  # as the kiosk loads it
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-window-"))
    video = make_video(engine, folder, args.rounds)
    print(
        f"platform {app.platformName()}; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs; {args.threads} intra-op thread(s)"
    )
    if not args.no_launch:
        ups = sorted(window_up_seconds(folder, video) for _ in range(3))
        print(
            f"\nwindow up (launch -> first paint, fresh process): median {ups[1]:.2f} s, "
            f"runs {', '.join(f'{u:.2f}' for u in ups)} s"
        )
    ballast = Ballast(threads)
    empty = make_empty_video(folder, args.idle_seconds)
    names, columns = [], []
    for name, used in (
        ("offline pack (vectron)", engine),
        ("vectron + buffalo_l ballast", with_ballast(engine, ballast)),
    ):
        shown = live_run(app, used, folder, video, window_on=True, stall_trace=args.stall_trace)
        headless = live_run(app, used, folder, video, window_on=False)
        idle = live_run(app, used, folder, empty, window_on=True, idle_after=1.0, timed=False)
        names.append(name)
        columns.append(rows(shown, headless, idle))
    side_by_side(names, columns)
    print(f"  ({TICK_MS} ms timer lateness; load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
