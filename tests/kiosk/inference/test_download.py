"""The real download path against an HTTP server on 127.0.0.1 serving zips built here."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.inference.download import PackDownloader
from kiosk.inference.errors import PackIntegrityError, PackUnavailableError
from kiosk.inference.packs import PackSpec, get_pack_spec, resolve_pack
from tests.utils.pack_server import PackServer, pack_zip

pytestmark = pytest.mark.network


@pytest.fixture
def server() -> Iterator[PackServer]:
    running = PackServer()
    yield running
    running.close()


def downloadable(url: str) -> PackSpec:
    return dataclasses.replace(get_pack_spec("vectron"), url=url, package=None)


def test_good_download_installs_exactly_the_two_files(server: PackServer, tmp_path: Path) -> None:
    spec = downloadable(server.serve("/vectron.zip", pack_zip()))
    PackDownloader(progress=False)(spec, tmp_path / "vectron")
    assert sorted(p.name for p in (tmp_path / "vectron").iterdir()) == [
        "scrfd_500m_bnkps.onnx",
        "w600k_mbf.onnx",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["vectron"]  # no temporary leftovers


def test_archive_with_a_top_folder_is_accepted(server: PackServer, tmp_path: Path) -> None:
    spec = downloadable(server.serve("/nested.zip", pack_zip(folder="vectron/")))
    PackDownloader(progress=False)(spec, tmp_path / "vectron")
    assert (tmp_path / "vectron" / "w600k_mbf.onnx").is_file()


def test_resolution_downloads_into_the_cache_when_missing(
    server: PackServer, tmp_path: Path
) -> None:
    spec = downloadable(server.serve("/vectron.zip", pack_zip()))
    resolved = resolve_pack(spec, cache_dir=tmp_path, downloader=PackDownloader(progress=False))
    assert resolved.source == "download"
    assert resolved.detector_path == tmp_path / "vectron" / "scrfd_500m_bnkps.onnx"


def test_wrong_checksum_installs_nothing(server: PackServer, tmp_path: Path) -> None:
    spec = downloadable(server.serve("/bad.zip", pack_zip(tamper="w600k_mbf.onnx")))
    with pytest.raises(PackIntegrityError, match=r"w600k_mbf\.onnx .* expected 9cc6e4a7"):
        PackDownloader(progress=False)(spec, tmp_path / "vectron")
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_installs_nothing(server: PackServer, tmp_path: Path) -> None:
    body = pack_zip()
    spec = downloadable(server.serve("/cut.zip", body[: len(body) // 2], declared_length=len(body)))
    with pytest.raises(PackUnavailableError, match=r"RemoteProtocolError|incomplete"):
        PackDownloader(progress=False)(spec, tmp_path / "vectron")
    assert list(tmp_path.iterdir()) == []


def test_cut_archive_served_in_full_is_refused(server: PackServer, tmp_path: Path) -> None:
    body = pack_zip()
    spec = downloadable(server.serve("/half.zip", body[: len(body) // 2]))
    with pytest.raises(PackIntegrityError, match="not a valid zip"):
        PackDownloader(progress=False)(spec, tmp_path / "vectron")
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_reported(server: PackServer, tmp_path: Path) -> None:
    spec = downloadable(server.base + "/missing.zip")
    with pytest.raises(PackUnavailableError, match="HTTP 404"):
        PackDownloader(progress=False)(spec, tmp_path / "vectron")


def test_server_down_is_a_clear_unavailable_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = downloadable(f"http://127.0.0.1:{port}/vectron.zip")
    with pytest.raises(PackUnavailableError, match="ConnectError"):
        PackDownloader(progress=False)(spec, tmp_path / "vectron")
    assert list(tmp_path.iterdir()) == []


def test_failed_download_keeps_an_existing_install(server: PackServer, tmp_path: Path) -> None:
    good = downloadable(server.serve("/good.zip", pack_zip()))
    PackDownloader(progress=False)(good, tmp_path / "vectron")
    before = (tmp_path / "vectron" / "w600k_mbf.onnx").read_bytes()
    bad = downloadable(server.serve("/bad.zip", pack_zip(tamper="w600k_mbf.onnx")))
    with pytest.raises(PackIntegrityError):
        PackDownloader(progress=False)(bad, tmp_path / "vectron")
    assert (tmp_path / "vectron" / "w600k_mbf.onnx").read_bytes() == before
