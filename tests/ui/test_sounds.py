"""The check-in sounds played for real: through a PulseAudio null sink, recorded back.

Each run is its own process: Qt Multimedia connects to the audio service once per
process, and the rest of the suite runs with none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.audio import null_sink, peak

PLAY = """
import logging, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from ui.flow import Sound
from ui.sounds import QtSoundPlayer
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
app = QApplication([])
player = QtSoundPlayer()
def play():
    player.play(Sound[sys.argv[1]])
    QTimer.singleShot(1500, app.quit)
QTimer.singleShot(2000, play)  # the sounds load and the stream opens within this
app.exec()
print("ready" if player.ready else "not ready")
"""


def play(sound: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-c", PLAY, sound],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_each_sound_reaches_the_speakers(tmp_path: Path) -> None:
    with null_sink(tmp_path) as sink:
        for sound in ("SUCCESS", "FAILURE"):
            with sink.recording() as recording:
                result = play(sound, sink.env)
            assert result.stdout.strip() == "ready", result.stdout + result.stderr
            assert "ui.sounds sounds ready on" in result.stderr, result.stderr
            assert peak(recording) > 4000, (sound, peak(recording))


def test_without_an_audio_service_the_kiosk_says_so_once_and_plays_nothing(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PULSE_SERVER": f"unix:{tmp_path}/nothing-here", "HOME": str(tmp_path)}
    result = play("SUCCESS", env)
    assert result.stdout.strip() == "not ready"
    assert result.stderr.count("sounds cannot play: no audio output answers") == 1, result.stderr
