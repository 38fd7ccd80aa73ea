"""Member codes: the short identifier printed on a badge, for people without an email.

Six characters from an alphabet without look-alikes (no 0/O, 1/I/L), so a code read
off a badge and typed on a phone is hard to get wrong; `normalise` forgives case,
spaces and dashes. 31**6 is about 887 million codes: collisions are rare and retried.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 6
_SEPARATORS = re.compile(r"[\s\-_.]+")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str:
    """The code as stored: upper case, separators removed (``ab-3 k9x`` -> ``AB3K9X``)."""
    return _SEPARATORS.sub("", text).upper()


def looks_like_code(text: str) -> bool:
    code = normalise(text)
    return len(code) == LENGTH and all(c in ALPHABET for c in code)
