"""Pack registry and resolution order, with the real offline pack's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.inference.errors import PackIntegrityError, PackUnavailableError, UnknownPackError
from kiosk.inference.packs import KNOWN_PACKS, get_pack_spec, resolve_pack, sha256_of
from tests.kiosk.conftest import vectron_dir


def copy_vectron_files(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for model in get_pack_spec("vectron").files:
        shutil.copy(vectron_dir() / model.filename, target / model.filename)
    return target


def test_registry_knows_the_buffalo_packs_and_the_offline_pack() -> None:
    assert {"buffalo_l", "buffalo_s", "buffalo_sc", "vectron"} <= set(KNOWN_PACKS)
    buffalo_l = get_pack_spec("buffalo_l")
    assert buffalo_l.url is not None and buffalo_l.url.endswith("/buffalo_l.zip")
    assert [f.filename for f in buffalo_l.files] == ["det_10g.onnx", "w600k_r50.onnx"]
    assert all(len(f.sha256) == 64 for spec in KNOWN_PACKS.values() for f in spec.files)


def test_model_id_names_the_pack_and_the_recogniser_digest() -> None:
    ids = {spec.model_id for spec in KNOWN_PACKS.values()}
    assert len(ids) == len(KNOWN_PACKS)
    assert get_pack_spec("buffalo_l").model_id == "buffalo_l@4c06341c33c2ca1f"


def test_offline_pack_checksums_match_the_shipped_files() -> None:
    for model in get_pack_spec("vectron").files:
        assert sha256_of(vectron_dir() / model.filename) == model.sha256


def test_unknown_pack_names_the_known_ones() -> None:
    with pytest.raises(UnknownPackError, match=r"buffalo_l.*vectron"):
        get_pack_spec("buffalo_xl")


def test_explicit_dir_comes_first(tmp_path: Path) -> None:
    explicit = copy_vectron_files(tmp_path / "explicit")
    cache = copy_vectron_files(tmp_path / "cache" / "vectron").parent
    resolved = resolve_pack("vectron", model_dir=explicit, cache_dir=cache)
    assert resolved.source == "dir"
    assert resolved.detector_path.parent == explicit


def test_cache_comes_before_the_package(tmp_path: Path) -> None:
    copy_vectron_files(tmp_path / "vectron")
    resolved = resolve_pack("vectron", cache_dir=tmp_path)
    assert (resolved.source, resolved.recognizer_path.parent) == ("cache", tmp_path / "vectron")


def test_pack_shipped_in_a_package_is_the_last_resort(tmp_path: Path) -> None:
    resolved = resolve_pack("vectron", model_dir=tmp_path / "empty", cache_dir=tmp_path)
    assert resolved.source == "package"
    assert resolved.detector_path == vectron_dir() / "scrfd_500m_bnkps.onnx"


def test_corrupt_file_in_explicit_dir_is_an_error_not_skipped(tmp_path: Path) -> None:
    explicit = copy_vectron_files(tmp_path / "explicit")
    with (explicit / "w600k_mbf.onnx").open("r+b") as handle:
        handle.write(b"\0" * 16)
    with pytest.raises(PackIntegrityError, match=r"w600k_mbf\.onnx"):
        resolve_pack("vectron", model_dir=explicit, cache_dir=tmp_path / "cache")


def test_corrupt_cached_file_is_ignored_and_the_next_source_used(tmp_path: Path) -> None:
    cached = copy_vectron_files(tmp_path / "vectron")
    (cached / "scrfd_500m_bnkps.onnx").write_bytes(b"not a model")
    assert resolve_pack("vectron", cache_dir=tmp_path).source == "package"


def test_missing_pack_without_network_explains_what_to_do(tmp_path: Path) -> None:
    def no_network(spec: object, target: Path) -> None:
        raise PackUnavailableError("ConnectError: [Errno -2] Name or service not known")

    with pytest.raises(PackUnavailableError) as caught:
        resolve_pack("buffalo_l", cache_dir=tmp_path, downloader=no_network)
    message = str(caught.value)
    for expected in (
        "det_10g.onnx",
        "w600k_r50.onnx",
        str(tmp_path / "buffalo_l"),
        "FACE_MODEL_DIR",
        "sonta face fetch buffalo_l",
        "Name or service not known",
    ):
        assert expected in message
    assert "\n" not in message  # one paragraph


def test_never_falls_back_to_another_pack(tmp_path: Path) -> None:
    # buffalo_s shares its recogniser with the offline pack, which is installed; still no.
    copy_vectron_files(tmp_path / "vectron")
    with pytest.raises(PackUnavailableError, match="'buffalo_s' is not available"):
        resolve_pack("buffalo_s", cache_dir=tmp_path, downloader=None)
