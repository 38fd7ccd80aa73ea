"""The engine end to end with the real offline pack on real photos."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.scrfd import SCRFD

from kiosk.inference.detector import NMS_THRESHOLD, FaceDetector
from kiosk.inference.engine import EngineConfig, FaceEngine
from kiosk.inference.errors import ModelPackError, PackUnavailableError, QualityError
from kiosk.inference.packs import ResolvedPack, resolve_pack
from kiosk.inference.quality import Issue, Purpose
from kiosk.inference.recognizer import INPUT_MEAN, INPUT_STD, FaceRecognizer
from kiosk.inference.sessions import ThreadSettings, create_session
from tests.kiosk.conftest import photo

pytestmark = pytest.mark.model


def test_finds_the_six_people_of_t1(engine: FaceEngine) -> None:
    faces = engine.detect(photo("t1"))
    assert len(faces) == 6
    assert all(face.keypoints.shape == (5, 2) for face in faces)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


@pytest.mark.parametrize("name", ["obama", "obama2", "obama3", "biden"])
def test_each_portrait_has_exactly_one_face(engine: FaceEngine, name: str) -> None:
    assert len(engine.detect(photo(name))) == 1


def test_live_size_detection_still_finds_a_portrait(engine: FaceEngine) -> None:
    assert len(engine.detect(photo("obama"), det_size=320)) == 1


def test_blank_frame_has_no_face(engine: FaceEngine, blank_image: np.ndarray) -> None:
    assert engine.analyze(blank_image) == []


@pytest.mark.parametrize("shape", [(2, 5000, 3), (5000, 2, 3), (1, 1, 3), (3, 700, 3)])
def test_strips_and_specks_have_no_face_and_no_error(
    engine: FaceEngine, shape: tuple[int, ...]
) -> None:
    assert engine.analyze(np.zeros(shape, np.uint8)) == []


def test_batch_embeddings_equal_one_at_a_time(engine: FaceEngine) -> None:
    image = photo("t1")
    analyzed = engine.analyze(image)
    batch = np.stack([a.embedding.vector for a in analyzed if a.embedding is not None])
    singles = np.stack(
        [engine.recognizer.embed([engine.recognizer.align(image, a.face)])[0] for a in analyzed]
    )
    np.testing.assert_allclose(batch, singles, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_every_embedding_carries_the_model_id(engine: FaceEngine) -> None:
    analyzed = engine.analyze(photo("obama"))
    assert analyzed[0].embedding is not None
    assert analyzed[0].embedding.model_id == "vectron@9cc6e4a75f0e2bf0" == engine.model_id


def test_enrolment_refuses_a_group_photo(engine: FaceEngine) -> None:
    with pytest.raises(QualityError, match="6 faces") as caught:
        engine.embed_single(photo("t1"))
    assert caught.value.report is not None
    assert caught.value.report.issues == (Issue.MULTIPLE_FACES,)


def test_enrolment_refuses_a_photo_without_a_face(
    engine: FaceEngine, blank_image: np.ndarray
) -> None:
    with pytest.raises(QualityError, match="No face found") as caught:
        engine.embed_single(blank_image)
    assert caught.value.report is not None and caught.value.report.issues == (Issue.NO_FACE,)


def test_checkin_takes_the_closest_face_of_several(engine: FaceEngine) -> None:
    chosen = engine.embed_single(photo("gdp"), purpose=Purpose.CHECKIN)
    widest = max(engine.detect(photo("gdp")), key=lambda f: f.inter_eye_distance)
    assert chosen.face.bbox == widest.bbox


def test_loads_from_a_folder_holding_only_detector_and_recogniser(
    offline_pack: ResolvedPack, tmp_path: Path
) -> None:
    for path in (offline_pack.detector_path, offline_pack.recognizer_path):
        shutil.copy(path, tmp_path / path.name)
    pack = resolve_pack("vectron", model_dir=tmp_path, cache_dir=tmp_path / "cache")
    engine = FaceEngine.load(pack, warm_up_sizes=())
    assert pack.source == "dir"
    assert len(engine.detect(photo("obama"))) == 1


def test_config_reads_the_documented_environment(tmp_path: Path) -> None:
    config = EngineConfig.from_env(
        {"FACE_MODEL": "vectron", "FACE_MODEL_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    )
    assert (config.pack, config.model_dir, config.threads.intra_op_threads) == (
        "vectron",
        tmp_path,
        1,
    )
    assert EngineConfig.from_env({}).pack == "buffalo_l"


def test_sessions_have_explicit_threads_and_no_spinning(offline_pack: ResolvedPack) -> None:
    session = create_session(offline_pack.recognizer_path, ThreadSettings(intra_op_threads=1))
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_fast_input_blob_equals_opencvs(engine: FaceEngine) -> None:
    assert isinstance(engine.detector, FaceDetector)
    frame = cv2.resize(photo("obama"), (640, 640))
    expected = cv2.dnn.blobFromImage(frame, 1.0 / 128, (640, 640), (127.5,) * 3, swapRB=True)
    np.testing.assert_allclose(engine.detector.model.input_blob(frame), expected, atol=1e-6)


def test_concurrent_callers_get_the_same_results_as_one_caller(engine: FaceEngine) -> None:
    images = [photo(name) for name in ("obama", "biden", "t1", "obama2")]
    expected = [[a.embedding.vector for a in engine.analyze(image)] for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(engine.analyze, images * 3))
    for index, analyzed in enumerate(results):
        vectors = [a.embedding.vector for a in analyzed]
        assert len(vectors) == len(expected[index % 4])
        np.testing.assert_allclose(vectors, expected[index % 4], atol=1e-4)


def test_an_image_asked_for_a_pack_it_does_not_hold_says_what_to_do(tmp_path: Path) -> None:
    """FACE_MODEL_BAKED (set by the Dockerfile): no download at start-up, a clear message."""
    config = EngineConfig.from_env(
        {
            "FACE_MODEL": "buffalo_l",
            "FACE_MODEL_BAKED": "vectron",
            "FACE_MODEL_CACHE": str(tmp_path),
        }
    )
    assert config.allow_download is False
    with pytest.raises(PackUnavailableError) as caught:
        config.resolve(progress=False)
    message = str(caught.value)
    assert "This image holds the face model pack 'vectron' only" in message
    assert "Set FACE_MODEL=vectron, or rebuild the image with --build-arg FACE_MODEL=buffalo_l" in (
        message
    )
    assert list(tmp_path.iterdir()) == []  # nothing was attempted in the cache


@pytest.mark.parametrize("name", ["t1", "obama", "gdp"])
@pytest.mark.parametrize("det_size", [640, 320])
def test_the_detector_finds_what_insightfaces_scrfd_finds(
    engine: FaceEngine, name: str, det_size: int
) -> None:
    """The engine's own SCRFD decoding (no insightface import at run time) against stock."""
    detector = engine.detector
    assert isinstance(detector, FaceDetector)
    stock = SCRFD(model_file=str(detector.model_path))
    stock.prepare(0, det_thresh=detector.score_threshold, nms_thresh=NMS_THRESHOLD)
    image = photo(name)
    faces = detector.detect(image, det_size=det_size)
    stock_boxes, stock_keypoints = stock.detect(image, input_size=(det_size, det_size))
    assert len(faces) == len(stock_boxes) > 0
    boxes = np.array([[*face.bbox, face.score] for face in faces])
    np.testing.assert_allclose(boxes, stock_boxes, rtol=1e-5, atol=1e-3)
    keypoints = np.stack([face.keypoints for face in faces])
    np.testing.assert_allclose(keypoints, stock_keypoints, rtol=1e-5, atol=1e-3)


def test_keeping_the_central_largest_faces_is_insightfaces_choice(engine: FaceEngine) -> None:
    detector = engine.detector
    assert isinstance(detector, FaceDetector)
    stock = SCRFD(model_file=str(detector.model_path))
    stock.prepare(0, det_thresh=detector.score_threshold, nms_thresh=NMS_THRESHOLD)
    image = photo("t1")
    stock_boxes, _ = stock.detect(image, input_size=(640, 640), max_num=3)
    faces = detector.detect(image, max_faces=3)
    assert len(faces) == 3
    ours = sorted(face.bbox for face in faces)
    theirs = sorted(tuple(box[:4]) for box in stock_boxes.tolist())
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_the_embeddings_are_insightfaces_arcface_ones(engine: FaceEngine) -> None:
    """The engine's own ArcFace preprocessing against stock ArcFaceONNX's, on six faces."""
    recognizer = engine.recognizer
    assert isinstance(recognizer, FaceRecognizer)
    stock = ArcFaceONNX(model_file=str(recognizer.model_path), session=recognizer.session)
    assert (stock.input_mean, stock.input_std) == (INPUT_MEAN, INPUT_STD)
    image = photo("t1")
    crops = [recognizer.align(image, face) for face in engine.detect(image)]
    assert len(crops) == 6
    expected = np.asarray(stock.get_feat(crops), dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(recognizer.embed(crops), expected, atol=1e-5)


def test_a_detector_file_that_is_not_scrfd_is_refused_with_what_to_do(
    offline_pack: ResolvedPack,
) -> None:
    session = create_session(offline_pack.recognizer_path, ThreadSettings(intra_op_threads=1))
    with pytest.raises(ModelPackError, match="1 outputs; an SCRFD model with five keypoints"):
        FaceDetector(session, offline_pack.recognizer_path)
