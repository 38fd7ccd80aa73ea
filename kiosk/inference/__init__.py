"""The face engine's public surface: what the server, the kiosk and the UI may import.

detect -> quality -> align -> embed with two ONNX sessions (`FaceEngine`), the in-memory
`Gallery`, `decide`'s accept/review/reject bands, the model `packs` and safe image
decoding; errors form the `FaceEngineError` tree drawn in `errors`. Callers outside this
package import from here only (an import contract holds them to it), so the modules
behind it can change freely. Names load on first use (PEP 562): importing an error or a
threshold does not load OpenCV or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.inference.download import (
        PackDownloader,
        Progress,
        install_from_dir,
        install_from_zip,
    )
    from kiosk.inference.engine import (
        ENROLMENT_DET_SIZE,
        LIVE_DET_SIZE,
        AnalyzedFace,
        EngineConfig,
        FaceEngine,
    )
    from kiosk.inference.errors import (
        FaceEngineError,
        ImageError,
        ModelMismatchError,
        PackIntegrityError,
        PackUnavailableError,
        QualityError,
        UnknownPackError,
    )
    from kiosk.inference.faces import DetectedFace, Embedding, Vector, require_same_model
    from kiosk.inference.gallery import Gallery, Template
    from kiosk.inference.images import (
        CHECKIN_MIN_SIDE,
        MAX_BYTES,
        MAX_FULL_DECODE_PIXELS,
        BGRImage,
        DecodedImage,
        ImageHeader,
        decode_image,
        fit_within,
        inspect_image,
        read_image_file,
    )
    from kiosk.inference.matching import (
        DEFAULT_THRESHOLDS,
        Band,
        Candidate,
        MatchDecision,
        Thresholds,
        band_for,
        decide,
        describe,
    )
    from kiosk.inference.packs import (
        DEFAULT_PACK,
        KNOWN_PACKS,
        PUBLIC_DOMAIN,
        PackSpec,
        ResolvedPack,
        default_cache_dir,
        embedding_dimension,
        get_pack_spec,
        licence_notice,
        pack_thresholds,
        resolve_pack,
        unmeasured_warning,
    )
    from kiosk.inference.program import command
    from kiosk.inference.quality import THRESHOLDS as QUALITY_THRESHOLDS
    from kiosk.inference.quality import (
        Issue,
        Purpose,
        QualityMeasures,
        QualityReport,
        assess,
        image_issues,
        measure,
    )
    from kiosk.inference.sessions import ThreadSettings

# Where each public name is defined: module -> names (a tuple: the name differs there).
_MODULES: dict[str, tuple[str | tuple[str, str], ...]] = {
    "engine": ("AnalyzedFace", "EngineConfig", "FaceEngine", "ENROLMENT_DET_SIZE", "LIVE_DET_SIZE"),
    "errors": (
        "FaceEngineError",
        "ImageError",
        "ModelMismatchError",
        "PackIntegrityError",
        "PackUnavailableError",
        "QualityError",
        "UnknownPackError",
    ),
    "download": ("PackDownloader", "Progress", "install_from_dir", "install_from_zip"),
    "faces": ("DetectedFace", "Embedding", "Vector", "require_same_model"),
    "gallery": ("Gallery", "Template"),
    "images": (
        "BGRImage",
        "CHECKIN_MIN_SIDE",
        "DecodedImage",
        "ImageHeader",
        "MAX_BYTES",
        "MAX_FULL_DECODE_PIXELS",
        "decode_image",
        "fit_within",
        "inspect_image",
        "read_image_file",
    ),
    "matching": (
        "DEFAULT_THRESHOLDS",
        "Band",
        "Candidate",
        "MatchDecision",
        "Thresholds",
        "band_for",
        "decide",
        "describe",
    ),
    "packs": (
        "DEFAULT_PACK",
        "KNOWN_PACKS",
        "PUBLIC_DOMAIN",
        "embedding_dimension",
        "PackSpec",
        "ResolvedPack",
        "default_cache_dir",
        "get_pack_spec",
        "licence_notice",
        "pack_thresholds",
        "resolve_pack",
        "unmeasured_warning",
    ),
    "program": ("command",),
    "quality": (
        "Issue",
        "Purpose",
        "QualityMeasures",
        "QualityReport",
        "assess",
        "image_issues",
        "measure",
        ("QUALITY_THRESHOLDS", "THRESHOLDS"),
    ),
    "sessions": ("ThreadSettings",),
}
_SOURCES = {
    (n if isinstance(n, str) else n[0]): (m, n if isinstance(n, str) else n[1])
    for m, names in _MODULES.items()
    for n in names
}

__all__ = [
    "CHECKIN_MIN_SIDE",
    "DEFAULT_PACK",
    "DEFAULT_THRESHOLDS",
    "ENROLMENT_DET_SIZE",
    "KNOWN_PACKS",
    "LIVE_DET_SIZE",
    "MAX_BYTES",
    "MAX_FULL_DECODE_PIXELS",
    "PUBLIC_DOMAIN",
    "QUALITY_THRESHOLDS",
    "AnalyzedFace",
    "BGRImage",
    "Band",
    "Candidate",
    "DecodedImage",
    "DetectedFace",
    "Embedding",
    "EngineConfig",
    "FaceEngine",
    "FaceEngineError",
    "Gallery",
    "ImageError",
    "ImageHeader",
    "Issue",
    "MatchDecision",
    "ModelMismatchError",
    "PackDownloader",
    "PackIntegrityError",
    "PackSpec",
    "PackUnavailableError",
    "Progress",
    "Purpose",
    "QualityError",
    "QualityMeasures",
    "QualityReport",
    "ResolvedPack",
    "Template",
    "ThreadSettings",
    "Thresholds",
    "UnknownPackError",
    "Vector",
    "assess",
    "band_for",
    "command",
    "decide",
    "decode_image",
    "default_cache_dir",
    "describe",
    "embedding_dimension",
    "fit_within",
    "get_pack_spec",
    "image_issues",
    "inspect_image",
    "install_from_dir",
    "install_from_zip",
    "licence_notice",
    "measure",
    "pack_thresholds",
    "read_image_file",
    "require_same_model",
    "resolve_pack",
    "unmeasured_warning",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use, then keep it here."""
    try:
        module, attr = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
