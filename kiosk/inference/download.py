"""Install a pack's two model files into the cache: downloaded, or copied from a folder.

The archive streams into a temporary file beside the cache (with a progress bar), the
two needed members are extracted into a temporary folder and checked against their
sha256, and only then moved into place with an atomic rename. A failed, truncated or
tampered download leaves the cache exactly as it was. A folder of the pack's ONNX files
(e.g. pre-downloaded for an offline image build) goes through the same check and rename.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
from tqdm import tqdm

from kiosk.inference.errors import PackIntegrityError, PackUnavailableError
from kiosk.inference.packs import PackSpec, sha256_of

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Called with (bytes so far, total bytes or None) after each chunk: for a progress view.
Progress = Callable[[int, int | None], None]


class PackDownloader:
    """Installs packs from their release URL; the HTTP client is injectable for tests."""

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        progress: bool = True,
        url_override: str | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self._client = client
        self._progress = progress
        self._url_override = url_override
        self._on_progress = on_progress

    def __call__(self, spec: PackSpec, target: Path) -> None:
        url = self._url_override or spec.url
        if url is None:
            raise PackUnavailableError(f"pack {spec.name!r} has no download URL")
        with _staging(spec, target) as tmp:
            archive = tmp / f"{spec.name}.zip"
            with archive.open("wb") as out:
                self._fetch(url, out)
            staged = tmp / "files"
            _extract_verified(spec, archive, staged)
            _install(spec, staged, target)

    def _fetch(self, url: str, out: IO[bytes]) -> None:
        client = self._client or httpx.Client(follow_redirects=True, timeout=30.0)
        try:
            with client.stream("GET", url) as response:
                if response.status_code != httpx.codes.OK:
                    raise PackUnavailableError(f"the server answered HTTP {response.status_code}")
                total = int(response.headers.get("content-length", 0)) or None
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=url.rsplit("/", 1)[-1],
                    disable=not self._progress,
                ) as bar:
                    done = 0
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        out.write(chunk)
                        bar.update(len(chunk))
                        done += len(chunk)
                        if self._on_progress is not None:
                            self._on_progress(done, total)
        except httpx.HTTPError as exc:
            # Covers refused connections, DNS failures, timeouts and bodies cut short.
            raise PackUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if self._client is None:
                client.close()


def install_from_dir(
    spec: PackSpec, source: Path, target: Path, *, on_progress: Progress | None = None
) -> None:
    """Copy the pack's two files from ``source`` into ``target``, checked like a download."""
    absent = [m.filename for m in spec.files if not (source / m.filename).is_file()]
    if absent:
        raise PackUnavailableError(
            f"{source} has no {' or '.join(absent)}: put the {spec.name} pack's ONNX files "
            "there (from the official zip) or pick another source."
        )
    with _staging(spec, target) as tmp:
        staged = tmp / "files"
        staged.mkdir()
        total = sum((source / m.filename).stat().st_size for m in spec.files)
        done = 0
        for model in spec.files:
            with (
                (source / model.filename).open("rb") as src,
                (staged / model.filename).open("wb") as dst,
            ):
                while chunk := src.read(CHUNK_BYTES):
                    dst.write(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, total)
        _check_sums(spec, staged, f"in {source}")
        _install(spec, staged, target)


def install_from_zip(spec: PackSpec, archive: Path, target: Path) -> None:
    """Install the pack from its release zip already on disk (e.g. on a USB stick)."""
    with _staging(spec, target) as tmp:
        staged = tmp / "files"
        _extract_verified(spec, archive, staged)
        _install(spec, staged, target)


@contextmanager
def _staging(spec: PackSpec, target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` (same file system, so the rename is atomic).

    A cache that cannot be written (a read-only image folder, another user's home) is
    a PackUnavailableError naming the folder, never a bare PermissionError.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{spec.name}-", dir=target.parent) as tmp:
            yield Path(tmp)
    except PermissionError as exc:
        raise PackUnavailableError(
            f"the model cache {target.parent} cannot be written ({exc.strerror}); set "
            "FACE_MODEL_CACHE to a folder you can write, or FACE_MODEL_DIR to one holding "
            f"the {spec.name} files"
        ) from exc


def _install(spec: PackSpec, staged: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for model in spec.files:
        (staged / model.filename).replace(target / model.filename)
    log.info("installed face model pack %s into %s", spec.name, target)


def _extract_verified(spec: PackSpec, archive: Path, staged: Path) -> None:
    """Extract the pack's two files (matched by base name) and check their sha256."""
    staged.mkdir()
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = {Path(info.filename).name: info for info in bundle.infolist()}
            for model in spec.files:
                info = members.get(model.filename)
                if info is None:
                    raise PackIntegrityError(
                        f"the downloaded {spec.name}.zip has no {model.filename}; it is not "
                        "the official pack"
                    )
                with bundle.open(info) as src, (staged / model.filename).open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_BYTES)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise PackIntegrityError(
            f"the downloaded {spec.name}.zip is not a valid zip archive ({exc}); the download "
            "was probably cut short. Run `sonta face fetch` again."
        ) from exc
    _check_sums(spec, staged, f"from the downloaded {spec.name}.zip")


def _check_sums(spec: PackSpec, staged: Path, origin: str) -> None:
    for model in spec.files:
        actual = sha256_of(staged / model.filename)
        if actual != model.sha256:
            raise PackIntegrityError(
                f"{model.filename} {origin} has sha256 {actual}, expected {model.sha256}. "
                "It is corrupt or not the official pack's file; nothing was installed."
            )
