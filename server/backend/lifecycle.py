"""The meeting life cycle, in one place, with words for what each status allows.

    scheduled --start--> active --end--> ended --reopen--> active
        \\                  |
         `----cancel-------'--> cancelled

Any meeting can be copied into a new scheduled one (`copy`), which is how an ended or
cancelled meeting is "run again". Every refusal says what *is* possible.
"""

from __future__ import annotations

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"scheduled"}), "active"),
    "end": (frozenset({"active"}), "ended"),
    "cancel": (frozenset({"scheduled", "active"}), "cancelled"),
    "reopen": (frozenset({"ended"}), "active"),
}

_POSSIBLE = {
    "scheduled": "start it to take check-ins and show its QR code, change it, or cancel it",
    "active": "it is taking check-ins; end it when it is over, or cancel it",
    "ended": "reopen it to take more check-ins, or copy it to a new meeting",
    "cancelled": "copy it to a new meeting",
}


def allowed_actions(status: str) -> list[str]:
    """The actions a meeting in `status` allows, in a stable order (copy always)."""
    moves = [action for action, (sources, _target) in TRANSITIONS.items() if status in sources]
    return [*moves, "copy"]


def possible(status: str) -> str:
    """What an admin can do with a meeting in `status`, as a sentence fragment."""
    return _POSSIBLE.get(status, "copy it to a new meeting")


def refusal(status: str, action: str) -> str:
    """Why `action` is refused for a meeting in `status`, and what is possible instead."""
    doing = {
        "start": "started",
        "end": "ended",
        "cancel": "cancelled",
        "reopen": "reopened",
        "change": "changed",
        "qr": "shown as a QR code",
    }[action]
    return f"This meeting is {status}, so it cannot be {doing}: {possible(status)}."
