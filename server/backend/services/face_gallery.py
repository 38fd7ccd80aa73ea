"""The backend's decrypted gallery of the server's recogniser, kept current from the event log.

Before, every phone check-in decrypted every member's templates to find the best other
person. Now each backend process keeps one `Gallery` per model id in memory: loaded
once (decrypting each template once), then caught up from the gallery event log
(`crud.gallery`), whose ids become visible in increasing order. A request asks for the
current version (one indexed `max(id)` query) and applies only the events since the
version it holds, so every replica sees an enrolment or erasure made through any other
one as soon as it is committed. When the log was pruned past that version, or the
recogniser changed, the gallery is reloaded whole.

Decrypted templates live only in this process's memory, never in the cache or on disk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.inference import Embedding, Gallery, Template, embedding_dimension
from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import gallery as gallery_events
from server.backend.crud import templates as templates_crud
from server.backend.errors import TemplateDecryptionError
from server.backend.models import FaceTemplate, GalleryEvent

logger = logging.getLogger(__name__)


class ServerGallery:
    """Decrypted templates of one model id, as of a gallery version; thread-safe."""

    def __init__(self, model_id: str, cipher: TemplateCipher, dimension: int = 512) -> None:
        self.model_id = model_id
        self._cipher = cipher
        self._dimension = dimension
        self._gallery = Gallery(model_id, dimension)
        self._version: int | None = None  # None: never loaded
        self._lock = threading.Lock()  # one catch-up at a time; searches never wait

    @property
    def version(self) -> int | None:
        return self._version

    def current(self, session: Session) -> Gallery:
        """The gallery with every event committed before this call applied."""
        latest = gallery_events.current_version(session=session)
        if latest != self._version:
            with self._lock:
                if latest != self._version:
                    self._catch_up(session, latest)
        return self._gallery

    def _catch_up(self, session: Session, latest: int) -> None:
        held = self._version
        oldest = session.scalar(select(func.min(GalleryEvent.id)))
        if held is None or held > latest or (oldest is not None and held < oldest - 1):
            self._reload(session, latest)
            return
        events = session.scalars(
            select(GalleryEvent)
            .where(GalleryEvent.id > held, GalleryEvent.id <= latest)
            .order_by(GalleryEvent.id)
        )
        last = {event.template_id: event.action for event in events}  # the last event wins
        self._gallery.remove([str(t) for t, action in last.items() if action == "deleted"])
        added = [t for t, action in last.items() if action == "added"]
        if added:
            rows = session.scalars(
                select(FaceTemplate).where(
                    FaceTemplate.id.in_(added), FaceTemplate.model_id == self.model_id
                )
            )
            self._gallery.add_many(self._opened(rows))
        self._version = latest
        logger.debug("gallery of %s caught up to version %d", self.model_id, latest)

    def _reload(self, session: Session, latest: int) -> None:
        """Every template of the model, decrypted once; used at first and after pruning."""
        rows = session.scalars(select(FaceTemplate).where(FaceTemplate.model_id == self.model_id))
        self._gallery.replace_all(self._opened(rows))
        self._version = latest
        logger.info(
            "gallery of %s loaded at version %d: %d templates of %d people",
            self.model_id,
            latest,
            len(self._gallery),
            len(self._gallery.person_ids),
        )

    def _opened(self, rows: Iterable[FaceTemplate]) -> list[Template]:
        opened = []
        for row in rows:
            try:
                vector = templates_crud.open_row(self._cipher, row)
            except TemplateDecryptionError as exc:
                # One damaged row must not block every check-in; an operator must see it.
                logger.error("Template left out of the backend gallery: %s", exc.message)
                continue
            opened.append(
                Template(str(row.id), str(row.member_id), Embedding(vector, self.model_id))
            )
        return opened


class Galleries:
    """One `ServerGallery` per model id, made on first use."""

    def __init__(self, cipher: TemplateCipher) -> None:
        self._cipher = cipher
        self._by_model: dict[str, ServerGallery] = {}
        self._lock = threading.Lock()

    def for_model(self, model_id: str) -> ServerGallery:
        with self._lock:
            found = self._by_model.get(model_id)
            if found is None:
                found = ServerGallery(model_id, self._cipher, embedding_dimension(model_id))
                self._by_model[model_id] = found
            return found
