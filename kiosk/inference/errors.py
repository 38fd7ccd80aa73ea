"""Errors raised by the face engine, each with a message a person can act on.

    FaceEngineError
    ├── ModelPackError            the model pack cannot be used
    │   ├── UnknownPackError      FACE_MODEL names no known pack
    │   ├── PackUnavailableError  files missing and no way to get them (no network, ...)
    │   └── PackIntegrityError    a file or download fails its checksum or is not a zip
    ├── ImageError                an input is not a usable image (empty, truncated, huge)
    ├── ModelMismatchError        embeddings of two different recognisers were compared
    ├── QualityError              enrolment input fails a quality gate (carries the report)
    └── CalibrationError          labelled photos that cannot be used for a calibration

Third-party errors (httpx, Pillow, onnxruntime) are mapped to these at the boundary
where they happen, so callers only ever catch ``FaceEngineError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.inference.quality import QualityReport


class FaceEngineError(Exception):
    """Base of every error the face engine raises."""


class ModelPackError(FaceEngineError):
    """The configured model pack cannot be used."""


class UnknownPackError(ModelPackError):
    """The pack name is not in the registry of known packs."""


class PackUnavailableError(ModelPackError):
    """The pack's files are missing and could not be obtained."""


class PackIntegrityError(ModelPackError):
    """A model file or downloaded archive does not match its published checksum."""


class ImageError(FaceEngineError):
    """The input is not an image the engine can use."""


class ModelMismatchError(FaceEngineError):
    """Two embeddings come from different recognisers and cannot be compared."""


class QualityError(FaceEngineError):
    """A photo fails the quality gates for the requested use (e.g. enrolment)."""

    def __init__(self, message: str, report: QualityReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class CalibrationError(FaceEngineError):
    """The labelled photos cannot be used for a calibration."""
