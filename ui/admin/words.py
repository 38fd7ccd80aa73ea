"""Counts in words: "1 check-in", "2 check-ins", never "1 check-in(s)"."""

from __future__ import annotations


def count(number: int, singular: str, plural: str = "") -> str:
    """``number`` with the noun in the form it takes (``plural`` defaults to +"s")."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
