"""The audit log: every admin action, written in the same transaction as the action."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.backend.models import Admin, AuditEntry


def record(
    *,
    session: Session,
    actor: Admin | None,
    action: str,
    target_type: str = "",
    target_id: object = "",
    details: dict[str, Any] | None = None,
    client_ip: str = "",
) -> AuditEntry:
    """Add an entry to the session (the caller commits it with the change it describes)."""
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details or {},
        client_ip=client_ip,
    )
    session.add(entry)
    return entry


def list_entries(
    *,
    session: Session,
    action: str | None = None,
    actor_id: uuid.UUID | None = None,
    target_id: str | None = None,
    skip: int = 0,
    limit: int = 100,
) -> tuple[list[AuditEntry], int]:
    """Newest first, optionally filtered; returns the page and the total count."""
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).offset(skip).limit(limit))
    return list(rows), count
