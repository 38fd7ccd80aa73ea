"""Adapter to the shared face engine: which recogniser the server expects, and its threshold.

The server never runs a model here; it only needs the identity of its pack's recogniser
(to refuse embeddings from another one) and the accept threshold (for the duplicate
check). Both come from the shared engine, `kiosk.inference`, whose modules used here
are light (no model, no onnxruntime).
"""

from __future__ import annotations

from kiosk.inference.errors import UnknownPackError
from kiosk.inference.matching import DEFAULT_THRESHOLDS
from kiosk.inference.packs import get_pack_spec
from server.backend.errors import ConfigError


class ServerFaceModel:
    """The recogniser identity and decision threshold of the server's FACE_MODEL pack."""

    def __init__(self, pack_name: str) -> None:
        try:
            spec = get_pack_spec(pack_name)
        except UnknownPackError as exc:
            raise ConfigError(str(exc)) from exc
        self.pack_name = pack_name
        self.model_id = spec.model_id
        # At or above this cosine similarity two embeddings are the same person.
        self.accept_threshold = float(DEFAULT_THRESHOLDS.accept)
