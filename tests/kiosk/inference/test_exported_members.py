"""The face engine's public surface: exactly these names, each resolving, none heavy to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kiosk.inference

FACES = Path(__file__).resolve().parents[2] / "data" / "faces"

EXPECTED = [
    "BGRImage",
    "CHECKIN_MIN_SIDE",
    "DEFAULT_PACK",
    "DEFAULT_THRESHOLDS",
    "ENROLMENT_DET_SIZE",
    "KNOWN_PACKS",
    "LIVE_DET_SIZE",
    "MAX_BYTES",
    "MAX_FULL_DECODE_PIXELS",
    "PUBLIC_DOMAIN",
    "QUALITY_THRESHOLDS",
    "AnalyzedFace",
    "Band",
    "Candidate",
    "DecodedImage",
    "DetectedFace",
    "Embedding",
    "EngineConfig",
    "FaceEngine",
    "FaceEngineError",
    "Gallery",
    "ImageError",
    "ImageHeader",
    "Issue",
    "MatchDecision",
    "ModelMismatchError",
    "PackDownloader",
    "PackIntegrityError",
    "PackSpec",
    "PackUnavailableError",
    "Progress",
    "Purpose",
    "QualityError",
    "QualityMeasures",
    "QualityReport",
    "ResolvedPack",
    "Template",
    "ThreadSettings",
    "Thresholds",
    "UnknownPackError",
    "Vector",
    "assess",
    "band_for",
    "command",
    "decide",
    "decode_image",
    "default_cache_dir",
    "describe",
    "embedding_dimension",
    "fit_within",
    "get_pack_spec",
    "image_issues",
    "inspect_image",
    "install_from_dir",
    "install_from_zip",
    "licence_notice",
    "measure",
    "pack_thresholds",
    "read_image_file",
    "require_same_model",
    "resolve_pack",
    "unmeasured_warning",
]


def test_the_public_surface_is_exactly_the_listed_names() -> None:
    assert sorted(kiosk.inference.__all__) == sorted(EXPECTED)
    assert sorted(dir(kiosk.inference)) == sorted(EXPECTED)


def test_every_public_name_is_the_object_its_module_defines() -> None:
    for name in kiosk.inference.__all__:
        value = getattr(kiosk.inference, name)
        module = getattr(value, "__module__", None)
        if module is not None and isinstance(value, type):
            assert module.startswith("kiosk.inference."), (name, module)
    assert kiosk.inference.QUALITY_THRESHOLDS is kiosk.inference.quality.THRESHOLDS


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="FaceEngin"):
        kiosk.inference.FaceEngin  # type: ignore[attr-defined]  # noqa: B018


def test_errors_and_pack_lookups_load_no_image_or_onnx_library() -> None:
    """The server's and CLI's light paths import errors and packs without OpenCV/onnxruntime."""
    code = (
        "import sys\n"
        "from kiosk.inference import ImageError, Band, FaceEngineError, get_pack_spec\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(loaded & {'cv2', 'onnxruntime', 'insightface'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_detecting_and_embedding_import_neither_insightface_nor_what_it_pulls_in() -> None:
    """The kiosk's bundle leaves out insightface, SciPy, scikit-image and onnx: the engine,
    loaded and run on a photo, must never need them."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kiosk.inference import FaceEngine, resolve_pack, read_image_file\n"
        "engine = FaceEngine.load(resolve_pack('vectron', cache_dir=Path('/nonexistent')))\n"
        f"image = read_image_file(Path({str(FACES / 'obama.jpg')!r})).pixels\n"
        "assert len(engine.analyze(image)) == 1\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(','.join(sorted(loaded & {'insightface', 'scipy', 'skimage', 'onnx'})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout
