"""Adapter to the shared face engine: which recogniser the server expects, and its thresholds.

The server never runs a model here; it only needs the identity of its pack's recogniser
(to refuse embeddings from another one) and the pack's decision thresholds (for the
duplicate check and the phone check-in). Both come from the shared engine,
`kiosk.inference`, whose modules used here are light (no model, no onnxruntime).
"""

from __future__ import annotations

import logging

from kiosk.inference import (
    PUBLIC_DOMAIN,
    UnknownPackError,
    get_pack_spec,
    licence_notice,
    pack_thresholds,
    unmeasured_warning,
)
from server.backend.errors import ConfigError

logger = logging.getLogger(__name__)


class ServerFaceModel:
    """The recogniser identity and decision threshold of the server's FACE_MODEL pack."""

    def __init__(self, pack_name: str, *, production: bool = False) -> None:
        try:
            spec = get_pack_spec(pack_name)
        except UnknownPackError as exc:
            raise ConfigError(str(exc)) from exc
        self.pack_name = pack_name
        self.model_id = spec.model_id
        self.licence = spec.licence  # one word: "non-commercial", "public-domain"
        if production and spec.licence != PUBLIC_DOMAIN:
            logger.warning(licence_notice(spec))
        # The pack's measured thresholds, or the most conservative known ones.
        self.thresholds, measured = pack_thresholds(spec)
        if not measured:
            logger.warning(unmeasured_warning(spec))
        # At or above this cosine similarity two embeddings are the same person.
        self.accept_threshold = float(self.thresholds.accept)
