"""Password hashing with argon2id at OWASP's recommended parameters, and what a new
password must be: NIST SP 800-63B's length over composition, checked against lists of
common and breached passwords, dictionary words, repeats and sequences. The lists and
the estimate are zxcvbn's (Dropbox's estimator, whose password list comes from public
breach corpora); a password it scores below 4 (fewer than 10^10 guesses) is refused."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
# zxcvbn's score 4: at least 10^10 guesses, "very unguessable" even offline; admins guard
# biometric data, and a passphrase of three or four words clears it easily.
MIN_STRENGTH_SCORE = 4
# Words of this service a password must not lean on (NIST: context-specific words).
CONTEXT_WORDS = ("sonta", "attendance", "church", "admin", "kiosk")


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost; the defaults are OWASP's (19 MiB, 2 iterations, 1 lane)."""

    memory_kib: int = 19_456
    time_cost: int = 2
    parallelism: int = 1


class PasswordHasher:
    """Hashes and verifies passwords; verifying an unknown account costs the same time."""

    def __init__(self, params: Argon2Params | None = None) -> None:
        p = params or Argon2Params()
        self._hasher = Argon2Hasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_kib,
            parallelism=p.parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; a missing hash still spends a full verification."""
        if password_hash is None:
            # Equal work for unknown accounts, so timing does not reveal which emails exist.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("sonta-timing-equaliser")
            password_hash = self._dummy_hash
            password = password + "\x00never-matches"
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a new password is refused, or None when it is acceptable.

    `user_inputs` are the account's own words (its email), which a password must not
    be built from either.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must be at most {MAX_PASSWORD_LENGTH} characters long."
    if len(set(password)) < 5:
        return "The password repeats too few different characters."
    if any(_contains_account_name(password, text) for text in user_inputs):
        return (
            "The password must not contain the account's email address or the part before "
            "its @. Choose a passphrase of several unrelated words."
        )
    words = [*CONTEXT_WORDS, *(w for text in user_inputs for w in _words(text))]
    estimate = zxcvbn(password, user_inputs=words)
    if estimate["score"] < MIN_STRENGTH_SCORE:
        warning = estimate["feedback"]["warning"] or "it is built from common words or patterns"
        return (
            f"This password is too easy to guess ({warning.rstrip('.')}). Use a longer "
            "passphrase of several unrelated words; symbols and capitals matter less."
        )
    return None


def _contains_account_name(password: str, email: str) -> bool:
    """Whether the password holds the email, or its part before the @ (any case)."""
    lowered, address = password.casefold(), email.strip().casefold()
    local = address.split("@", 1)[0]
    return bool(address) and (address in lowered or (len(local) >= 4 and local in lowered))


def _words(text: str) -> list[str]:
    """The email itself and its parts (`kwame.mensah@church.org` -> kwame, mensah, ...).

    The whole address too: zxcvbn matches each listed word as one token, so without it
    the address typed as it is scored as a strong mix of words and symbols.
    """
    whole = text
    for separator in "@._-+":
        text = text.replace(separator, " ")
    return [whole, text, *text.split()]
