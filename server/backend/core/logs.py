"""What reaches a log: one-time codes, links, tokens, tickets and search terms never do.

The access log would keep every query string (`?search=` names, `?ticket=` stream
tickets, `?token=` QR codes and one-time links), so its query values are masked; mail
that could not be sent never has its text logged (see `services.mailer`).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

ACCESS_LOGGER = "uvicorn.access"
MASK = "***"


def mask_query(target: str) -> str:
    """`/api/members?search=Ama` -> `/api/members?search=***`: names kept, values gone."""
    path, separator, query = target.partition("?")
    if not separator:
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return f"{path}?{MASK}"
    return f"{path}?{urlencode([(name, MASK) for name, _ in pairs], safe='*')}"


def mask_email(email: str) -> str:
    """`kwame.mensah@example.org` -> `k***@example.org`: enough to tell mails apart."""
    name, at, domain = email.partition("@")
    return f"{name[:1]}{MASK}{at}{domain}" if at else MASK


class MaskAccessQueries(logging.Filter):
    """Masks the request target of uvicorn's access lines (its third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_query(args[2]), *args[3:])
        return True


def install_masking() -> None:
    """Attach the filter to the access logger once, however many apps are built."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, MaskAccessQueries) for f in access.filters):
        access.addFilter(MaskAccessQueries())
