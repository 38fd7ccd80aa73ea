"""``sonta face ...`` run as a real process: its JSON contract, messages and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kiosk.inference import face_command
from kiosk.inference.quality import Purpose
from tests.kiosk.conftest import photo_path, vectron_dir
from tests.utils.pack_server import PackServer, pack_zip

pytestmark = [pytest.mark.model, pytest.mark.slow]

SONTA = str(Path(sys.executable).with_name("sonta"))


def sonta(*args: str, cache: Path, model: str = "vectron") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACE_MODEL")}
    env.update(FACE_MODEL=model, FACE_MODEL_CACHE=str(cache), OMP_NUM_THREADS="2")
    return subprocess.run(
        [SONTA, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_detect_json_contract(tmp_path: Path) -> None:
    result = sonta(
        "face", "detect", "--json", str(photo_path("obama")), str(photo_path("t1")), cache=tmp_path
    )
    assert result.returncode == 0, result.stderr
    document = as_json(result)
    assert document["model"] == {"pack": "vectron", "model_id": "vectron@9cc6e4a75f0e2bf0"}
    assert document["purpose"] == "enrolment"
    obama, group = document["images"]
    assert (obama["width"], obama["height"], obama["issues"]) == (910, 1137, [])
    (face,) = obama["faces"]
    assert set(face) == {"bbox", "score", "keypoints", "quality"}
    x1, y1, x2, y2 = face["bbox"]
    assert 0 <= x1 < x2 <= 910 and 0 <= y1 < y2 <= 1137
    assert len(face["keypoints"]) == 5 and all(len(p) == 2 for p in face["keypoints"])
    assert face["quality"]["passed"] is True
    assert set(face["quality"]["measures"]) == {
        "inter_eye_px",
        "sharpness",
        "brightness",
        "yaw_deg",
        "pitch_deg",
        "detector_score",
        "edge_margin",
        "outside_share",
    }
    assert face["quality"]["measures"]["edge_margin"] > 0.02  # well inside the picture
    assert len(group["faces"]) == 6
    assert group["issues"] == ["multiple_faces"]
    assert "Only the person enrolling" in group["reasons"][0]


def test_detect_reports_coordinates_of_the_original_file_when_downscaled(tmp_path: Path) -> None:
    # A 3x upscale of obama.jpg (2730x3411) is decoded at most 2560 pixels high.
    big = cv2.resize(cv2.imread(str(photo_path("obama"))), None, fx=3, fy=3)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big)
    document = as_json(
        sonta("face", "detect", "--json", str(path), str(photo_path("obama")), cache=tmp_path)
    )
    scaled, original = (image["faces"][0]["bbox"] for image in document["images"])
    assert document["images"][0]["width"] == 2730
    for a, b in zip(scaled, original, strict=True):
        assert a == pytest.approx(3 * b, abs=12)


def test_detect_keeps_going_past_a_bad_file_and_fails_at_the_end(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    result = sonta(
        "face", "detect", "--json", str(bad), str(empty), str(photo_path("biden")), cache=tmp_path
    )
    assert result.returncode == 1
    first, second, third = as_json(result)["images"]
    assert "not an image" in first["error"]
    assert "empty (0 bytes)" in second["error"]
    assert len(third["faces"]) == 1
    human = sonta("face", "detect", str(bad), cache=tmp_path)
    assert human.returncode == 1
    assert "notes.jpg: This is not an image" in human.stderr


def test_compare_gives_similarity_band_and_model(tmp_path: Path) -> None:
    same = as_json(
        sonta(
            "face",
            "compare",
            "--json",
            str(photo_path("obama")),
            str(photo_path("obama2")),
            cache=tmp_path,
        )
    )
    other = as_json(
        sonta(
            "face",
            "compare",
            "--json",
            str(photo_path("obama")),
            str(photo_path("biden")),
            cache=tmp_path,
        )
    )
    assert same["band"] == "accept" and 0.45 <= same["similarity"] <= 1
    assert other["band"] == "reject" and other["similarity"] < 0.3
    assert same["model"]["model_id"] == "vectron@9cc6e4a75f0e2bf0"
    text = sonta(
        "face", "compare", str(photo_path("obama")), str(photo_path("obama3")), cache=tmp_path
    )
    assert text.stdout.startswith("similarity 0.") and "accept" in text.stdout


def test_compare_without_a_face_is_an_error(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 200, np.uint8))
    result = sonta("face", "compare", str(blank), str(photo_path("obama")), cache=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert "no face found" in result.stderr


def test_models_lists_known_packs_and_what_is_present(tmp_path: Path) -> None:
    packs = {
        p["name"]: p for p in as_json(sonta("face", "models", "--json", cache=tmp_path))["packs"]
    }
    assert packs["vectron"]["present"] is True and packs["vectron"]["source"] == "package"
    assert packs["vectron"]["selected"] is True
    assert packs["buffalo_l"]["present"] is False
    assert packs["buffalo_l"]["files"] == ["det_10g.onnx", "w600k_r50.onnx"]
    assert packs["vectron"]["thresholds_measured"] is True
    assert "89 same-person pairs" in packs["vectron"]["measurement"]
    assert packs["buffalo_l"]["thresholds_measured"] is False
    assert packs["buffalo_l"]["measurement"] is None
    assert packs["buffalo_l"]["thresholds"]["accept_by_gallery"][-1] == [10000, 0.65]


def test_models_names_each_packs_licence_in_one_word(tmp_path: Path) -> None:
    packs = {
        p["name"]: p for p in as_json(sonta("face", "models", "--json", cache=tmp_path))["packs"]
    }
    assert packs["dlib"]["licence"] == "public-domain"
    assert packs["dlib"]["present"] is True and packs["dlib"]["source"] == "package"
    assert packs["dlib"]["files"] == [
        "shape_predictor_5_face_landmarks.dat",
        "dlib_face_recognition_resnet_model_v1.dat",
    ]
    assert {packs[n]["licence"] for n in ("buffalo_l", "buffalo_s", "vectron")} == {
        "non-commercial"
    }
    text = sonta("face", "models", cache=tmp_path, model="dlib")
    assert text.returncode == 0, text.stderr
    rows = {line[2:].split()[0]: line for line in text.stdout.splitlines() if line.strip()}
    assert rows["dlib"].startswith("* dlib") and "public-domain" in rows["dlib"]
    assert "non-commercial" in rows["vectron"]
    assert "non-commercial research purposes only" in text.stdout
    assert "public domain" in text.stdout


def test_compare_runs_the_dlib_pack(tmp_path: Path) -> None:
    result = sonta(
        "face",
        "compare",
        "--json",
        str(photo_path("obama")),
        str(photo_path("obama2")),
        cache=tmp_path,
        model="dlib",
    )
    assert result.returncode == 0, result.stderr
    document = as_json(result)
    assert document["model"]["pack"] == "dlib" and document["band"] == "accept"


def test_unknown_model_is_an_error_on_stderr(tmp_path: Path) -> None:
    result = sonta("face", "detect", str(photo_path("obama")), cache=tmp_path, model="buffalo_xxl")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Unknown face model pack 'buffalo_xxl'" in result.stderr


@pytest.fixture
def server() -> Iterator[PackServer]:
    running = PackServer()
    yield running
    running.close()


def test_fetch_installs_into_the_cache(server: PackServer, tmp_path: Path) -> None:
    url = server.serve("/vectron.zip", pack_zip())
    result = sonta("face", "fetch", "vectron", "--url", url, "--json", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert as_json(result)["path"] == str(tmp_path / "vectron")
    packs = {
        p["name"]: p for p in as_json(sonta("face", "models", "--json", cache=tmp_path))["packs"]
    }
    assert packs["vectron"]["source"] == "cache"


def test_fetch_with_the_server_down_fails_cleanly(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = sonta(
        "face", "fetch", "buffalo_sc", "--url", f"http://127.0.0.1:{port}/b.zip", cache=tmp_path
    )
    assert result.returncode == 1
    assert "error:" in result.stderr and "ConnectError" in result.stderr
    assert not (tmp_path / "buffalo_sc").exists()


def test_declared_purposes_match_the_engine() -> None:
    assert tuple(p.value for p in Purpose) == face_command.PURPOSES


def test_other_commands_do_not_load_the_inference_stack() -> None:
    code = (
        "import sys, sonta.cli; sonta.cli.build_parser(); "
        "print(sorted(m for m in ('onnxruntime', 'cv2', 'insightface') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def small_face(tmp_path: Path, factor: float = 0.1) -> Path:
    """obama2 shrunk until its eyes are ~13 pixels apart, on a 640x480 background."""
    small = cv2.resize(cv2.imread(str(photo_path("obama2"))), None, fx=factor, fy=factor)
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[100 : 100 + small.shape[0], 200 : 200 + small.shape[1]] = small
    path = tmp_path / "far-away.jpg"
    cv2.imwrite(str(path), canvas)
    return path


def test_compare_applies_the_checkin_gates_and_reports_them(tmp_path: Path) -> None:
    far = str(small_face(tmp_path))
    refused = sonta("face", "compare", "--json", far, str(photo_path("obama")), cache=tmp_path)
    assert refused.returncode == 1
    assert "too small" in refused.stderr.lower() and "--skip-gates" in refused.stderr
    document = as_json(refused)
    assert (document["similarity"], document["band"], document["gates"]) == (None, None, "checkin")
    first, second = document["images"]
    assert first["quality"]["issues"] == ["too_small"]
    assert first["quality"]["measures"]["inter_eye_px"] < 16
    assert second["quality"]["passed"] is True
    forced = sonta(
        "face", "compare", "--json", "--skip-gates", far, str(photo_path("obama")), cache=tmp_path
    )
    assert forced.returncode == 0, forced.stderr
    assert as_json(forced)["similarity"] is not None and as_json(forced)["gates"] == "skipped"
    assert "warning:" in forced.stderr and "too small" in forced.stderr.lower()


@pytest.mark.parametrize("size", ["1024", "1280", "416"])
def test_detect_accepts_any_multiple_of_32_up_to_1280(tmp_path: Path, size: str) -> None:
    result = sonta(
        "face", "detect", "--json", "--det-size", size, str(photo_path("t1")), cache=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(as_json(result)["images"][0]["faces"]) == 6


@pytest.mark.parametrize("size", ["1000", "1312", "0", "big"])
def test_detect_refuses_other_det_sizes_with_usage_help(tmp_path: Path, size: str) -> None:
    result = sonta("face", "detect", "--det-size", size, str(photo_path("t1")), cache=tmp_path)
    assert result.returncode == 2
    assert "multiple of 32" in result.stderr


def test_calibrate_reports_distributions_rates_and_suggestions(tmp_path: Path) -> None:
    """A folder per person, as an operator would lay out their own photos."""
    for person, names in {"obama": ["obama", "obama2", "obama3"], "biden": ["biden"]}.items():
        (tmp_path / "photos" / person).mkdir(parents=True)
        for name in names:
            (tmp_path / "photos" / person / f"{name}.jpg").write_bytes(
                photo_path(name).read_bytes()
            )
    (tmp_path / "photos" / "biden" / "notes.jpg").write_text("not a photo")
    result = sonta("face", "calibrate", "--json", str(tmp_path / "photos"), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    document = as_json(result)
    assert (document["people"], document["photos"]) == (2, 4)
    assert document["skipped"][0]["path"].endswith("notes.jpg")
    assert document["genuine"]["pairs"] == 3 and document["impostor"]["pairs"] == 3
    assert document["genuine"]["minimum"] > document["impostor"]["maximum"]
    assert document["thresholds"] == {"accept": 0.45, "review": 0.3, "margin": 0.08}
    assert document["at_accept"]["false_accepts"] == 0
    assert [s["people"] for s in document["gallery_sizes"]] == [1, 100, 1000, 10000]
    # Two people say nothing about the tail: no threshold is suggested from them.
    assert document["suggestions_refused"].startswith(
        "No thresholds suggested: photos of 2 people, and at least 20 are needed"
    )
    assert all(s["suggested_accept"] is None for s in document["gallery_sizes"])
    text = sonta("face", "calibrate", str(tmp_path / "photos"), cache=tmp_path)
    assert "genuine" in text.stdout and "sugg. accept (90%)" in text.stdout
    assert "No thresholds suggested: photos of 2 people" in text.stdout


def test_calibrate_without_enough_labelled_people_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.jpg").write_bytes(photo_path("obama").read_bytes())
    result = sonta("face", "calibrate", str(tmp_path), cache=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert "at least two people" in result.stderr and "--identities" in result.stderr


def test_fetch_from_a_folder_installs_the_verified_files(tmp_path: Path) -> None:
    """The offline image build's path: a folder of ONNX files, checked like a download."""
    folder = tmp_path / "pack"
    folder.mkdir()
    for name in ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx", "1k3d68.onnx"):
        source = vectron_dir() / name
        (folder / name).write_bytes(source.read_bytes() if source.is_file() else b"x")
    cache = tmp_path / "cache"
    result = sonta("face", "fetch", "vectron", "--from-dir", str(folder), "--json", cache=cache)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (cache / "vectron").iterdir()) == [
        "scrfd_500m_bnkps.onnx",
        "w600k_mbf.onnx",
    ]


def test_fetch_from_a_folder_with_a_wrong_file_installs_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "scrfd_500m_bnkps.onnx").write_bytes(
        (vectron_dir() / "scrfd_500m_bnkps.onnx").read_bytes()
    )
    (folder / "w600k_mbf.onnx").write_bytes(b"not the recogniser")
    result = sonta("face", "fetch", "vectron", "--from-dir", str(folder), cache=tmp_path / "c")
    assert result.returncode == 1
    assert "w600k_mbf.onnx in " in result.stderr and "nothing was installed" in result.stderr
    assert not (tmp_path / "c" / "vectron").exists()


def test_fetch_from_a_folder_missing_a_file_says_which(tmp_path: Path) -> None:
    result = sonta("face", "fetch", "vectron", "--from-dir", str(tmp_path), cache=tmp_path / "c")
    assert result.returncode == 1
    assert "has no scrfd_500m_bnkps.onnx or w600k_mbf.onnx" in result.stderr


def test_an_unwritable_cache_is_a_message_not_a_traceback() -> None:
    """As in an image whose /opt/models belongs to root: run as an unprivileged user."""
    # Outside pytest's temporary tree, whose owner-only folders that user cannot enter.
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        root.chmod(0o755)
        cache, folder = root / "models", root / "pack"
        for made in (cache, folder):
            made.mkdir(mode=0o755)
        for file in ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx"):
            shutil.copyfile(vectron_dir() / file, folder / file)
            (folder / file).chmod(0o644)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACE_MODEL")}
        env.update(FACE_MODEL_CACHE=str(cache), HOME=str(root))
        command = [SONTA, "face", "fetch", "vectron", "--from-dir", str(folder)]
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1, result.stderr
    assert f"the model cache {cache} cannot be written (Permission denied)" in result.stderr
    assert "Traceback" not in result.stderr
