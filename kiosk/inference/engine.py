"""The face engine: detect -> quality -> align -> embed, shared by kiosk and server.

Only the detector and recogniser sessions are created (InsightFace's stock
``FaceAnalysis`` would also run 3D landmarks, 106-point landmarks and gender/age).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.inference.backends import Detector, Recognizer, load_models
from kiosk.inference.download import PackDownloader
from kiosk.inference.errors import PackUnavailableError, QualityError
from kiosk.inference.faces import DetectedFace, Embedding
from kiosk.inference.images import BGRImage
from kiosk.inference.matching import Thresholds
from kiosk.inference.packs import (
    DEFAULT_PACK,
    PackSpec,
    ResolvedPack,
    pack_thresholds,
    resolve_pack,
    unmeasured_warning,
)
from kiosk.inference.quality import Purpose, QualityReport, assess, image_issues, measure
from kiosk.inference.sessions import ThreadSettings

log = logging.getLogger(__name__)

ENROLMENT_DET_SIZE = 640
LIVE_DET_SIZE = 320


@dataclass(frozen=True)
class EngineConfig:
    """Where the model comes from and how it runs (FACE_MODEL, FACE_MODEL_DIR, ...)."""

    pack: str = DEFAULT_PACK
    model_dir: Path | None = None
    cache_dir: Path | None = None
    allow_download: bool = True
    threads: ThreadSettings = field(default_factory=ThreadSettings)
    # The one pack a container image holds (FACE_MODEL_BAKED); such an image never
    # downloads at start-up, and asking it for another pack says what to do instead.
    baked_pack: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineConfig:
        env = os.environ if environ is None else environ
        model_dir = env.get("FACE_MODEL_DIR", "").strip()
        cache_dir = env.get("FACE_MODEL_CACHE", "").strip()
        baked = env.get("FACE_MODEL_BAKED", "").strip() or None
        return cls(
            pack=env.get("FACE_MODEL", "").strip() or DEFAULT_PACK,
            model_dir=Path(model_dir).expanduser() if model_dir else None,
            cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
            allow_download=baked is None,
            threads=ThreadSettings.from_env(dict(env)),
            baked_pack=baked,
        )

    def resolve(self, *, progress: bool = True) -> ResolvedPack:
        downloader = PackDownloader(progress=progress) if self.allow_download else None
        try:
            return resolve_pack(
                self.pack, model_dir=self.model_dir, cache_dir=self.cache_dir, downloader=downloader
            )
        except PackUnavailableError as exc:
            if self.baked_pack is None or self.baked_pack == self.pack:
                raise
            raise PackUnavailableError(_not_in_image(self.pack, self.baked_pack)) from exc


def _not_in_image(pack: str, baked: str) -> str:
    return (
        f"This image holds the face model pack {baked!r} only (built with --build-arg "
        f"FACE_MODEL={baked}), and FACE_MODEL={pack} is not in it; images never download "
        f"a model at start-up. Set FACE_MODEL={baked}, or rebuild the image with "
        f"--build-arg FACE_MODEL={pack}, or mount a folder holding the {pack} files and set "
        "FACE_MODEL_DIR to it. Changing packs means re-enrolling faces."
    )


@dataclass(frozen=True)
class AnalyzedFace:
    """A detected face with its quality verdict and, when asked for, its embedding."""

    face: DetectedFace
    quality: QualityReport
    embedding: Embedding | None


class FaceEngine:
    """Detector + recogniser of one pack; safe to call from several threads."""

    def __init__(self, detector: Detector, recognizer: Recognizer, spec: PackSpec) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.spec = spec

    @classmethod
    def load(
        cls,
        pack: ResolvedPack,
        threads: ThreadSettings | None = None,
        *,
        warm_up_sizes: tuple[int, ...] = (ENROLMENT_DET_SIZE, LIVE_DET_SIZE),
    ) -> FaceEngine:
        settings = threads or ThreadSettings()
        log.info("loading face model pack %s from %s", pack.spec.name, pack.detector_path.parent)
        detector, recognizer = load_models(pack, settings)
        engine = cls(detector, recognizer, pack.spec)
        if not engine.thresholds_measured:
            log.warning(unmeasured_warning(pack.spec))
        if warm_up_sizes:
            detector.warm_up(warm_up_sizes)
        log.info("face model pack %s loaded (model id %s)", pack.spec.name, engine.model_id)
        return engine

    @classmethod
    def from_config(cls, config: EngineConfig) -> FaceEngine:
        return cls.load(config.resolve(), config.threads)

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def thresholds(self) -> Thresholds:
        """The pack's decision thresholds (the most conservative known if never measured)."""
        return pack_thresholds(self.spec)[0]

    @property
    def thresholds_measured(self) -> bool:
        return pack_thresholds(self.spec)[1]

    def detect(self, image: BGRImage, *, det_size: int = ENROLMENT_DET_SIZE) -> list[DetectedFace]:
        return self.detector.detect(image, det_size=det_size)

    def analyze(
        self,
        image: BGRImage,
        *,
        purpose: Purpose = Purpose.CHECKIN,
        det_size: int = ENROLMENT_DET_SIZE,
        faces: list[DetectedFace] | None = None,
        scale: float = 1.0,
        embed: bool = True,
    ) -> list[AnalyzedFace]:
        """Quality for every face and, if ``embed``, their embeddings (a few per run).

        ``faces`` reuses an earlier detection of the same image (e.g. the live loop's);
        ``scale`` is decoded/original size so the size gate uses original pixels.
        """
        found = self.detect(image, det_size=det_size) if faces is None else faces
        crops = [self.recognizer.align(image, face) for face in found]
        picture = (image.shape[0], image.shape[1])
        reports = [
            assess(measure(f, c, scale, picture=picture), purpose)
            for f, c in zip(found, crops, strict=True)
        ]
        vectors = self.recognizer.embed(crops) if embed else None
        return [
            AnalyzedFace(
                face,
                report,
                Embedding(vectors[i], self.model_id) if vectors is not None else None,
            )
            for i, (face, report) in enumerate(zip(found, reports, strict=True))
        ]

    def embed_single(
        self, image: BGRImage, *, purpose: Purpose = Purpose.ENROLMENT, scale: float = 1.0
    ) -> AnalyzedFace:
        """The face to use from a photo: for enrolment exactly one, for check-in the largest.

        Raises QualityError (with the report) when it fails a gate of ``purpose``.
        """
        analyzed = self.analyze(image, purpose=purpose, scale=scale)
        issues = image_issues(len(analyzed), purpose)
        if issues:
            measures = analyzed[0].quality.measures if analyzed else None
            report = QualityReport(measures, issues)
            counted = f"{len(analyzed)} faces found. " if analyzed else ""
            raise QualityError(counted + issues[0].advice, report)
        # At a check-in several people may be in view: the closest (largest) one counts.
        best = max(analyzed, key=lambda a: a.face.inter_eye_distance)
        if not best.quality.passed:
            raise QualityError(" ".join(best.quality.reasons), best.quality)
        return best
