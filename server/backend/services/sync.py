"""Gallery sync for kiosks: the templates of the people a kiosk needs, as versioned deltas.

Who a kiosk needs, and nobody else, is `gallery_scope.scope`: the people expected at the
meetings it serves that are under way or start soon.

A delta lists the templates added and deleted since the kiosk's version, from the
gallery event log. A delta cannot bring back templates added before `since` for
someone who has only now become needed, so the answer carries a `scope` fingerprint
of the needed set; when the kiosk's scope differs (someone joined or left it), or it
is new, too far behind, or behind the oldest kept event, it gets a full snapshot that
replaces its gallery, so people who left the scope are gone from the kiosk too.

Templates are decrypted here and leave the server only through this module, to a
paired kiosk, over the API. Each sync notes on the kiosk's row what it was given
(`record_holdings`), for the admins' Kiosks screen.

The answer is lean (a 5,000-member snapshot was 27.7 MB of JSON floats): embeddings
travel as `q8` (see `kiosk.protocol.wire`), members and meetings only when their digest differs
from the one the kiosk sent back, and the template list is streamed from a cursor in
chunks, so the server never holds a whole snapshot in memory. The route compresses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from kiosk.protocol.wire import encode_q8
from server.backend.core.security.templates import TemplateCipher
from server.backend.crud import gallery
from server.backend.crud.templates import open_row
from server.backend.errors import TemplateDecryptionError
from server.backend.models import FaceTemplate, GalleryEvent, Kiosk
from server.backend.schemas.kiosk import GallerySync
from server.backend.services import badges
from server.backend.services.gallery_scope import UPCOMING, Candidate, record_holdings, scope

logger = logging.getLogger(__name__)

# Beyond this many events a snapshot is cheaper to send and to apply than the delta.
MAX_DELTA_EVENTS = 500
# Templates decrypted and encoded per chunk of a streamed answer.
CHUNK_TEMPLATES = 200


def _encoded(cipher: TemplateCipher, row: FaceTemplate) -> dict[str, str] | None:
    try:
        vector = open_row(cipher, row)
    except TemplateDecryptionError as exc:
        # One damaged row must not stop every kiosk's sync; an operator must see it.
        logger.error("Template left out of gallery sync: %s", exc.message)
        return None
    return {
        "template_id": str(row.id),
        "member_id": str(row.member_id),
        "embedding": encode_q8(vector),
    }


def wire_member(member: Candidate) -> dict[str, str]:
    """A member as `GalleryMember` puts it in JSON, built directly: validating 5,000
    models on every sync only to dump them again cost more than the rest of a quiet sync's
    Python. The members digest is taken over these, so they must stay exactly alike."""
    return {"member_id": str(member.id), "full_name": member.full_name, "ministry": member.ministry}


def _scope_templates(needed: frozenset[uuid.UUID], model_id: str) -> Select[FaceTemplate]:
    return (
        select(FaceTemplate)
        .where(FaceTemplate.member_id.in_(needed or {uuid.UUID(int=0)}))
        .where(FaceTemplate.model_id == model_id)
        .order_by(FaceTemplate.created_at, FaceTemplate.id)
    )


def _digest(items: list[Any]) -> str:
    canonical = json.dumps(items, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _needs_snapshot(session: Session, *, since: int, current: int, same_scope: bool) -> bool:
    if since <= 0 or not same_scope or since > current or current - since > MAX_DELTA_EVENTS:
        return True
    oldest = session.scalar(select(func.min(GalleryEvent.id)))
    # Events up to `oldest - 1` were pruned; a kiosk behind them missed some.
    return oldest is not None and since < oldest - 1


@dataclass(frozen=True)
class Delta:
    added: Select[FaceTemplate] | None  # the templates to send, as a query
    deleted_template_ids: list[uuid.UUID]
    deleted_member_ids: list[uuid.UUID]


def _delta(
    session: Session, *, since: int, current: int, needed: frozenset[uuid.UUID], model_id: str
) -> Delta:
    """Net changes in (since, current]: a template's last event decides its fate."""
    query = (
        select(GalleryEvent)
        .where(GalleryEvent.id > since, GalleryEvent.id <= current)
        .order_by(GalleryEvent.id)
    )
    last = {event.template_id: event for event in session.scalars(query)}
    added = {t for t, e in last.items() if e.action == "added" and e.member_id in needed}
    deleted = sorted(t for t, e in last.items() if e.action == "deleted")
    rows = None
    if added:
        rows = (
            select(FaceTemplate)
            .where(FaceTemplate.id.in_(added), FaceTemplate.model_id == model_id)
            .order_by(FaceTemplate.created_at, FaceTemplate.id)
        )
    touched = {e.member_id for e in last.values() if e.action == "deleted"}
    remaining = set(
        session.scalars(select(FaceTemplate.member_id).where(FaceTemplate.member_id.in_(touched)))
        if touched
        else []
    )
    return Delta(rows, deleted, sorted(touched - remaining))


@dataclass(frozen=True)
class GalleryAnswer:
    """Everything of a sync answer but the templates, and the query that yields them."""

    head: dict[str, Any]
    templates: Select[FaceTemplate] | None


def gallery_for_kiosk(
    session: Session,
    *,
    model_id: str,
    since: int,
    kiosk_scope: str | None,
    kiosk: Kiosk | None = None,
    lookahead: timedelta = UPCOMING,
    members_digest: str | None = None,
    meetings_digest: str | None = None,
) -> GalleryAnswer:
    """The sync answer for a kiosk at version `since` that last saw scope `kiosk_scope`.

    `members_digest` / `meetings_digest` are the digests of the kiosk's previous
    answer: a list whose digest is unchanged is sent as null (keep yours). What the
    answer gives is noted on `kiosk`'s row; the caller commits.
    """
    current = gallery.current_version(session=session)
    kiosk_id = kiosk.id if kiosk is not None else None
    needed = scope(session, model_id=model_id, kiosk_id=kiosk_id, lookahead=lookahead)
    full = _needs_snapshot(
        session, since=since, current=current, same_scope=kiosk_scope == needed.fingerprint
    )
    if kiosk is not None:
        quiet = not full and since == current
        record_holdings(session, kiosk, needed, model_id=model_id, recount=not quiet)
    if full:
        delta = Delta(_scope_templates(needed.member_ids, model_id), [], [])
    else:
        delta = _delta(
            session, since=since, current=current, needed=needed.member_ids, model_id=model_id
        )
    members = [wire_member(m) for m in needed.members]
    meetings = [m.model_dump(mode="json") for m in needed.meetings]
    members_now, meetings_now = _digest(members), _digest(meetings)
    head = GallerySync(
        version=current,
        model_id=model_id,
        full=full,
        scope=needed.fingerprint,
        templates=[],
        deleted_template_ids=delta.deleted_template_ids,
        deleted_member_ids=delta.deleted_member_ids,
        members=None,
        members_digest=members_now,
        meetings=None,
        meetings_digest=meetings_now,
        revoked_badge_ids=badges.revoked_ids(session),
    ).model_dump(mode="json", exclude={"templates"})
    # A snapshot replaces everything on the kiosk, so it always carries both lists.
    if full or members_digest != members_now:
        head["members"] = members
    if full or meetings_digest != meetings_now:
        head["meetings"] = meetings
    return GalleryAnswer(head, delta.added)


def stream_answer(engine: Engine, cipher: TemplateCipher, answer: GalleryAnswer) -> Iterator[bytes]:
    """The answer as JSON, templates last, decrypted and encoded a chunk at a time.

    Runs on its own connection with a server-side cursor (`yield_per`), so memory stays
    flat whatever the gallery's size; the request's session is not held meanwhile.
    """
    head = json.dumps(answer.head, separators=(",", ":"))
    yield (head[:-1] + ',"templates":[').encode()
    first = True
    if answer.templates is not None:
        with Session(engine) as session:
            rows = session.scalars(answer.templates.execution_options(yield_per=CHUNK_TEMPLATES))
            for chunk in rows.partitions(CHUNK_TEMPLATES):
                # Rows are held weakly by the session: each chunk is freed after use.
                encoded = [e for row in chunk if (e := _encoded(cipher, row)) is not None]
                if not encoded:
                    continue
                text = ",".join(json.dumps(e, separators=(",", ":")) for e in encoded)
                yield (text if first else "," + text).encode()
                first = False
    yield b"]}"
