"""Emailing a meeting's absent members, once each.

Following up people who stayed away is what church check-in tools offer staff. Each
message sent is written to the audit log (`absentee.messaged`, the meeting as target and
the member in the details) as soon as it is sent, and a member found there is never
emailed again for that meeting, however often the admin presses the button. Without
email set up nothing is sent and the answer says so.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.core.context import Backend
from server.backend.crud import audit
from server.backend.errors import ConflictError
from server.backend.models import Admin, AuditEntry
from server.backend.schemas.reports import AbsenteesMessaged
from server.backend.services import reports

ACTION = "absentee.messaged"
NO_EMAIL = (
    "Email is not set up on this server, so no one was emailed. Copy their phone numbers "
    "for a text message instead."
)


def messaged(session: Session, meeting_id: uuid.UUID) -> set[str]:
    """The members already emailed about this meeting (their ids)."""
    query = select(AuditEntry.details).where(
        AuditEntry.action == ACTION, AuditEntry.target_id == str(meeting_id)
    )
    return {str(details.get("member_id")) for details in session.scalars(query)}


def message_absentees(
    backend: Backend,
    session: Session,
    *,
    meeting_id: uuid.UUID,
    text: str,
    actor: Admin,
    client_ip: str,
) -> AbsenteesMessaged:
    """Email `text` to each absent member with an email who was not emailed before."""
    if not backend.mailer.delivers:
        raise ConflictError(NO_EMAIL)
    report = reports.meeting_report(session, meeting_id=meeting_id)
    done = messaged(session, meeting_id)
    sent, already, without = [], [], []
    for person in (p for p in report.people if p.presence == "absent"):
        if str(person.member_id) in done:
            already.append(person.full_name)
        elif not person.email:
            without.append(person.full_name)
        else:
            backend.mailer.send(
                to=person.email, subject=f"We missed you at {report.title}", text=text
            )
            audit.record(
                session=session,
                actor=actor,
                action=ACTION,
                target_type="meeting",
                target_id=meeting_id,
                details={"member_id": str(person.member_id)},
                client_ip=client_ip,
            )
            session.commit()  # recorded as soon as sent: never twice, even after a failure
            sent.append(person.full_name)
    return AbsenteesMessaged(
        detail=_sentence(sent, already, without),
        sent=sent,
        already=already,
        without_email=without,
    )


def _sentence(sent: list[str], already: list[str], without: list[str]) -> str:
    said = [f"Emailed {len(sent)} absent {'person' if len(sent) == 1 else 'people'}."]
    if already:
        said.append(f"Not again (emailed before): {', '.join(already)}.")
    if without:
        said.append(f"No email for: {', '.join(without)}; copy their phone numbers instead.")
    return " ".join(said)
