"""The face model pack on a kiosk: fetched on first run with progress, or imported from a
folder (a USB stick) for venues without internet.

Both end in the same cache the engine resolves from (`FACE_MODEL_CACHE`, default
`~/.insightface/models/<pack>`), and both check every file against the pack's published
sha256 before anything is moved into place, so a bad stick or a cut download leaves the
cache as it was. Progress is reported as (bytes done, bytes in all or None); the view
hears it through `SyncStatus.pack_progress` (`status_progress`).
"""

from __future__ import annotations

from pathlib import Path

from kiosk.inference import (
    PackDownloader,
    PackSpec,
    PackUnavailableError,
    Progress,
    ResolvedPack,
    default_cache_dir,
    get_pack_spec,
    install_from_dir,
    install_from_zip,
    resolve_pack,
)
from kiosk.syncing.status import SyncStatus

# How deep to look for the model files inside the folder given (stick root, pack folder).
SEARCH_DEPTH = 3


def _spec(pack: str | PackSpec) -> PackSpec:
    return get_pack_spec(pack) if isinstance(pack, str) else pack


def ensure_pack(
    pack: str | PackSpec,
    *,
    model_dir: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
    allow_download: bool = True,
) -> ResolvedPack:
    """The pack, resolved as the engine does; downloads it (with progress) when missing."""
    downloader = PackDownloader(progress=False, on_progress=on_progress) if allow_download else None
    return resolve_pack(
        _spec(pack), model_dir=model_dir, cache_dir=cache_dir, downloader=downloader
    )


def _find(folder: Path, name: str) -> Path | None:
    for depth in range(SEARCH_DEPTH + 1):
        for candidate in sorted(folder.glob("/".join(["*"] * depth + [name]))):
            if candidate.is_file():
                return candidate
    return None


def import_pack(
    source: Path,
    pack: str | PackSpec,
    *,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
) -> ResolvedPack:
    """Install the pack from `source` (its two files, or its release zip) into the cache.

    The files may sit a few folders down (e.g. `stick/models/buffalo_l/`).
    """
    spec = _spec(pack)
    if not source.is_dir():
        raise PackUnavailableError(
            f"{source} is not a folder. Give the folder (e.g. the USB stick) that holds "
            f"{spec.detector.filename} and {spec.recognizer.filename}, or {spec.name}.zip."
        )
    target = (cache_dir or default_cache_dir()) / spec.name
    detector = _find(source, spec.detector.filename)
    if detector is not None and (detector.parent / spec.recognizer.filename).is_file():
        install_from_dir(spec, detector.parent, target, on_progress=on_progress)
    elif (archive := _find(source, f"{spec.name}.zip")) is not None:
        install_from_zip(spec, archive, target)
        if on_progress is not None:
            on_progress(archive.stat().st_size, archive.stat().st_size)
    else:
        raise PackUnavailableError(
            f"{source} holds neither {spec.detector.filename} with {spec.recognizer.filename} "
            f"in one folder nor {spec.name}.zip (looked {SEARCH_DEPTH} folders deep). Copy "
            "the pack onto the stick and try again."
        )
    return resolve_pack(spec, cache_dir=target.parent)


def status_progress(status: SyncStatus) -> Progress:
    """A progress callback that shows whole percents in `status.pack_progress`."""

    def report(done: int, total: int | None) -> None:
        if total:
            fraction = round(min(1.0, done / total), 2)
            if fraction != status.snapshot.pack_progress:
                status.update(pack_progress=fraction)

    return report


def clear_progress(status: SyncStatus) -> None:
    status.update(pack_progress=None)
