"""The backend's view of its pack: the recogniser's identity and its measured thresholds."""

from __future__ import annotations

import logging

import pytest

from kiosk.inference.packs import CONSERVATIVE_THRESHOLDS, get_pack_spec
from server.backend.face_model import ServerFaceModel


def test_a_measured_pack_brings_its_own_thresholds(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="server.backend.face_model"):
        model = ServerFaceModel("vectron")
    calibration = get_pack_spec("vectron").calibration
    assert calibration is not None and model.thresholds == calibration.thresholds
    assert model.accept_threshold == calibration.thresholds.accept
    assert "never been measured" not in caplog.text


def test_an_unmeasured_pack_says_so_at_start_up_and_is_conservative(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="server.backend.face_model"):
        model = ServerFaceModel("buffalo_l")
    assert "'buffalo_l' have never been measured" in caplog.text
    assert "sonta face calibrate" in caplog.text
    assert model.thresholds == CONSERVATIVE_THRESHOLDS
