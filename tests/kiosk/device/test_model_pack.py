"""The model pack on a kiosk: first-run download with progress, import from a folder."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.device.model_pack import ensure_pack, import_pack, status_progress
from kiosk.inference.errors import PackIntegrityError, PackUnavailableError
from kiosk.inference.packs import PackSpec, get_pack_spec
from kiosk.syncing.status import SyncStatus
from tests.kiosk.conftest import vectron_dir
from tests.utils.pack_server import PackServer, pack_zip

pytestmark = pytest.mark.network


@pytest.fixture
def server() -> Iterator[PackServer]:
    running = PackServer()
    yield running
    running.close()


def downloadable(url: str) -> PackSpec:
    return dataclasses.replace(get_pack_spec("vectron"), url=url, package=None)


def test_first_run_downloads_the_pack_with_progress(server: PackServer, tmp_path: Path) -> None:
    spec = downloadable(server.serve("/vectron.zip", pack_zip()))
    status = SyncStatus()
    heard: list[float | None] = []
    status.subscribe(lambda s: heard.append(s.pack_progress))
    resolved = ensure_pack(spec, cache_dir=tmp_path, on_progress=status_progress(status))
    assert resolved.source == "download"
    assert heard[-1] == 1.0 and heard == sorted(heard) and len(heard) > 2
    # The second run finds it in the cache without the network.
    server.close()
    assert ensure_pack(spec, cache_dir=tmp_path).source == "cache"


def stick_with_files(tmp_path: Path) -> Path:
    stick = tmp_path / "stick" / "models" / "vectron"
    stick.mkdir(parents=True)
    for model in get_pack_spec("vectron").files:
        shutil.copyfile(vectron_dir() / model.filename, stick / model.filename)
    return tmp_path / "stick"


def test_import_from_a_usb_folder_checks_and_installs(tmp_path: Path) -> None:
    stick = stick_with_files(tmp_path)
    progress: list[tuple[int, int | None]] = []
    resolved = import_pack(
        stick,
        "vectron",
        cache_dir=tmp_path / "cache",
        on_progress=lambda d, t: progress.append((d, t)),
    )
    assert resolved.source == "cache"
    assert resolved.detector_path.parent == tmp_path / "cache" / "vectron"
    assert progress[-1][0] == progress[-1][1]


def test_import_from_a_folder_with_the_release_zip(tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "vectron.zip").write_bytes(pack_zip(folder="vectron/"))
    resolved = import_pack(stick, "vectron", cache_dir=tmp_path / "cache")
    assert resolved.recognizer_path.is_file()


def test_a_damaged_file_on_the_stick_installs_nothing(tmp_path: Path) -> None:
    stick = stick_with_files(tmp_path)
    damaged = stick / "models" / "vectron" / "w600k_mbf.onnx"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 1
    damaged.write_bytes(bytes(data))
    with pytest.raises(PackIntegrityError, match=r"w600k_mbf\.onnx"):
        import_pack(stick, "vectron", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "vectron").exists()


def test_a_folder_without_the_pack_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackUnavailableError, match=r"neither scrfd_500m_bnkps\.onnx"):
        import_pack(tmp_path / "empty", "vectron", cache_dir=tmp_path / "cache")
    with pytest.raises(PackUnavailableError, match="is not a folder"):
        import_pack(tmp_path / "nothing-here", "vectron", cache_dir=tmp_path / "cache")
