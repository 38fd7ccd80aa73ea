"""A private PulseAudio server whose only output is a null sink, and a recorder of it.

The check-in sounds' tests play through it as through a venue PC's speakers and read back
what reached the output, so "played" means samples arrived, not only that Qt said so.
"""

from __future__ import annotations

import array
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SINK = "kiosk_speakers"
START_TIMEOUT_S = 120.0  # the daemon's start on a loaded machine


@dataclass
class NullSink:
    """The server's environment for clients, and recording from the sink's monitor."""

    env: dict[str, str]
    folder: Path

    @contextmanager
    def recording(self) -> Iterator[Path]:
        """Records the sink's output (16-bit mono, 8 kHz) into a file while inside."""
        raw = self.folder / f"recording-{time.monotonic_ns()}.raw"
        command = ["parec", "-d", f"{SINK}.monitor", "--raw", "--format=s16le"]
        with raw.open("wb") as sink:
            recorder = subprocess.Popen(
                [*command, "--rate=8000", "--channels=1"], stdout=sink, env=self.env
            )
            try:
                time.sleep(0.5)  # the stream is connected before anything plays
                yield raw
                time.sleep(0.5)
            finally:
                recorder.terminate()
                recorder.wait(timeout=30)


def peak(recording: Path) -> int:
    """The loudest sample of a recording (0 when silent or empty)."""
    samples = array.array("h", recording.read_bytes()[: recording.stat().st_size // 2 * 2])
    return max((abs(s) for s in samples), default=0)


@contextmanager
def null_sink(folder: Path) -> Iterator[NullSink]:
    """A PulseAudio daemon on a socket in ``folder``, stopped on leaving."""
    runtime = folder / "pulse"
    runtime.mkdir(parents=True)
    socket = runtime / "native"
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_SERVER": f"unix:{socket}",
        "HOME": str(folder),
    }
    daemon = subprocess.Popen(
        [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
            f"--load=module-null-sink sink_name={SINK}",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
            "--log-target=stderr",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        info = ["pactl", "info"]
        while subprocess.run(info, env=env, capture_output=True, check=False).returncode:
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PulseAudio did not start: {daemon.communicate()[1]}")
            time.sleep(0.2)
        yield NullSink(env, folder)
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)
