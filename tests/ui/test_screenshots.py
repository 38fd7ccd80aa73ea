"""Screenshots of every screen at 1280x800, 1920x1080 and 1080x1920 on a real X server
(Xvfb, Qt's xcb platform as on a kiosk PC), checked for text cut off and widgets
overlapping.

The PNGs are test artefacts: they go to ``SONTA_SCREENSHOTS`` when set (to look at
them), else to the test's temporary folder; never into the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.screens import SIZES, WINDOW_SCENES

ROOT = Path(__file__).resolve().parents[2]
DIALOGS = 5
EXPECTED = (len(WINDOW_SCENES) + 2) * len(SIZES) + DIALOGS


def artefact_dir(tmp_path: Path, name: str) -> Path:
    base = os.environ.get("SONTA_SCREENSHOTS")
    return Path(base) / name if base else tmp_path / name


@pytest.mark.slow
def test_every_screen_renders_on_a_real_x_server(tmp_path: Path) -> None:
    xvfb_run = shutil.which("xvfb-run")
    assert xvfb_run, "xvfb-run is missing: scripts/bootstrap.sh installs xvfb for the tests"
    out = artefact_dir(tmp_path, "xvfb")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run(
        [
            xvfb_run,
            "-a",
            "-s",
            "-screen 0 1920x1920x24",
            sys.executable,
            "-m",
            "tests.ui.screens",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"xcb {EXPECTED} screenshots" in result.stdout
