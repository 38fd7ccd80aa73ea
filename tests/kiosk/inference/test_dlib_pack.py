"""The public-domain dlib pack, for real: dlib's models from face-recognition-models."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.inference.calibration import load_identities
from kiosk.inference.calibration_run import embed_people
from kiosk.inference.engine import EngineConfig, FaceEngine
from kiosk.inference.errors import ModelMismatchError
from kiosk.inference.packs import KNOWN_PACKS, ResolvedPack, licence_notice, resolve_pack
from kiosk.inference.quality import Purpose
from server.backend.face_model import ServerFaceModel
from tests.kiosk.conftest import photo

pytestmark = pytest.mark.model

CALIBRATION = Path(__file__).resolve().parents[2] / "data" / "calibration"
FORBIDDEN = "shape_predictor_68_face_landmarks"


@pytest.fixture(scope="module")
def dlib_pack(tmp_path_factory: pytest.TempPathFactory) -> ResolvedPack:
    return resolve_pack("dlib", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def dlib_engine(dlib_pack: ResolvedPack) -> FaceEngine:
    return FaceEngine.load(dlib_pack, warm_up_sizes=())


def test_resolves_from_the_installed_package_and_never_the_68_point_model(
    dlib_pack: ResolvedPack,
) -> None:
    assert dlib_pack.source == "package"
    assert dlib_pack.detector_path.name == "shape_predictor_5_face_landmarks.dat"
    assert dlib_pack.recognizer_path.name == "dlib_face_recognition_resnet_model_v1.dat"
    # The 68-point model ships in the same folder; the pack names it nowhere.
    assert (dlib_pack.detector_path.parent / f"{FORBIDDEN}.dat").is_file()
    assert all(FORBIDDEN not in f.filename for f in KNOWN_PACKS["dlib"].files)


def test_runs_from_a_folder_without_the_68_point_model(
    dlib_pack: ResolvedPack, tmp_path: Path
) -> None:
    for path in (dlib_pack.detector_path, dlib_pack.recognizer_path):
        shutil.copy(path, tmp_path / path.name)
    config = EngineConfig(pack="dlib", model_dir=tmp_path, allow_download=False)
    resolved = config.resolve(progress=False)
    assert resolved.source == "dir"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f.filename for f in KNOWN_PACKS["dlib"].files
    )
    engine = FaceEngine.load(resolved, warm_up_sizes=())
    assert len(engine.analyze(photo("obama"))) == 1


@pytest.mark.parametrize("name", ["obama", "obama2", "obama3", "biden"])
def test_each_portrait_has_exactly_one_face_with_scrfd_style_keypoints(
    dlib_engine: FaceEngine, name: str
) -> None:
    faces = dlib_engine.detect(photo(name))
    assert len(faces) == 1
    face = faces[0]
    assert face.keypoints.shape == (5, 2) and face.landmarks is not None
    assert 0.5 <= face.score < 1.0
    left_eye, right_eye, nose, left_mouth, right_mouth = face.keypoints
    x1, y1, x2, _ = face.bbox
    assert x1 < left_eye[0] < right_eye[0] < x2 and y1 < min(left_eye[1], right_eye[1])
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_blank_frame_has_no_face(dlib_engine: FaceEngine, blank_image: np.ndarray) -> None:
    assert dlib_engine.analyze(blank_image) == []
    assert dlib_engine.analyze(np.zeros((2, 5000, 3), np.uint8)) == []


def test_same_person_accepted_different_person_rejected(dlib_engine: FaceEngine) -> None:
    thresholds = dlib_engine.thresholds
    assert dlib_engine.thresholds_measured
    embeddings = {
        name: dlib_engine.embed_single(photo(name), purpose=Purpose.CHECKIN).embedding
        for name in ("obama", "obama2", "obama3", "biden")
    }
    vectors = {name: e for name, e in embeddings.items() if e is not None}
    assert vectors["obama"].vector.shape == (128,)
    assert abs(float(np.linalg.norm(vectors["obama"].vector)) - 1.0) < 1e-5
    for other in ("obama2", "obama3"):
        assert vectors["obama"].similarity(vectors[other]) >= thresholds.accept
    for name in ("obama", "obama2", "obama3"):
        assert vectors[name].similarity(vectors["biden"]) < thresholds.review


def test_batch_embeddings_equal_one_at_a_time(dlib_engine: FaceEngine) -> None:
    image = photo("t1")
    analyzed = dlib_engine.analyze(image)
    assert len(analyzed) >= 4  # HOG misses some of t1's smaller, turned faces
    batch = np.stack([a.embedding.vector for a in analyzed if a.embedding is not None])
    singles = np.stack(
        [
            dlib_engine.recognizer.embed([dlib_engine.recognizer.align(image, a.face)])[0]
            for a in analyzed
        ]
    )
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_its_embeddings_never_compare_with_arcface_ones(
    dlib_engine: FaceEngine, engine: FaceEngine
) -> None:
    assert dlib_engine.model_id.startswith("dlib@") and dlib_engine.model_id != engine.model_id
    ours = dlib_engine.embed_single(photo("obama")).embedding
    theirs = engine.embed_single(photo("obama")).embedding
    assert ours is not None and theirs is not None
    with pytest.raises(ModelMismatchError):
        ours.similarity(theirs)


@pytest.mark.slow
def test_recorded_thresholds_hold_on_the_calibration_photos(dlib_engine: FaceEngine) -> None:
    """Re-measures what packs.py records: every same-person pair at least review, every
    different-person pair below accept, the ranges as written."""
    embeddings, skipped = embed_people(dlib_engine, load_identities(CALIBRATION, None))
    assert skipped == []
    vectors = np.stack([v for vs in embeddings.values() for v in vs])
    labels = np.array([p for p, vs in embeddings.items() for _ in vs])
    scores = vectors @ vectors.T
    upper = np.triu_indices(len(vectors), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    genuine, impostor = scores[upper][same], scores[upper][~same]
    thresholds = dlib_engine.thresholds
    assert (len(genuine), len(impostor)) == (89, 652)
    assert genuine.min() >= thresholds.review and impostor.max() < thresholds.accept
    assert round(float(genuine.min()), 3) == pytest.approx(0.927, abs=0.002)
    assert round(float(impostor.max()), 3) == pytest.approx(0.918, abs=0.002)


def test_licences_are_one_word_per_pack() -> None:
    assert {name: spec.licence for name, spec in KNOWN_PACKS.items()} == {
        "buffalo_l": "non-commercial",
        "buffalo_s": "non-commercial",
        "buffalo_sc": "non-commercial",
        "vectron": "non-commercial",
        "dlib": "public-domain",
    }


def test_production_names_a_non_commercial_pack_once_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="server.backend.face_model"):
        ServerFaceModel("vectron", production=True)
        ServerFaceModel("dlib", production=True)
        ServerFaceModel("vectron", production=False)
    lines = [r.getMessage() for r in caplog.records if "licensed" in r.getMessage()]
    assert lines == [licence_notice(KNOWN_PACKS["vectron"])]
    assert "non-commercial research purposes only" in lines[0]
