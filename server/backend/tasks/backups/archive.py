"""The backup archive: one tar.gz holding a manifest, a database copy and, only when asked
for, the secrets sealed with a passphrase.

    manifest.json        what the copy holds (schema revision, counts, template keys)
    database.sqlite3     SQLite's online-backup copy, or
    database.pgdump      `pg_dump -Fc` output
    secrets.sealed       optional: AES-256-GCM under a key derived from a passphrase (scrypt)

The archive is written beside its destination and renamed into place, owner-only: it
holds personal data and encrypted face templates.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from server.backend.errors import BackupError

FORMAT = "sonta-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SECRETS = "secrets.sealed"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# scrypt at 2^15 x 8 (32 MiB, ~0.1 s): a guessed passphrase costs the same for an attacker.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SECRETS_AAD = b"sonta-backup-secrets-v1"
MIN_PASSPHRASE_LENGTH = 12


@dataclass(frozen=True)
class KeyCheck:
    """One sealed template of the copy, to prove a key opens them before replacing anything."""

    member_id: str
    template_id: str
    model_id: str
    key_version: str
    nonce: str  # base64
    ciphertext: str  # base64


@dataclass(frozen=True)
class Manifest:
    """What an archive holds, read before anything is restored."""

    database: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    created_at: str
    face_model: str
    model_ids: list[str]
    counts: dict[str, int]
    template_key_versions: list[str]
    key_check: KeyCheck | None
    database_sha256: str = ""
    with_secrets: bool = False
    format: str = FORMAT
    version: int = FORMAT_VERSION

    @property
    def database_file(self) -> str:
        return DATABASE_FILES[self.database]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, *, source: Path) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError("not a Sonta backup")
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(
                    f"format version {data.get('version')}; this Sonta reads {FORMAT_VERSION}"
                )
            check = data.pop("key_check")
            manifest = cls(**data, key_check=KeyCheck(**check) if check else None)
            manifest.database_file  # noqa: B018  (an unknown database is refused here)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BackupError(
                f"{source} has no usable manifest ({exc}); choose an archive made by "
                "`sonta backup`. Nothing was changed."
            ) from exc
        return manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_archive(
    destination: Path, manifest: Manifest, database_copy: Path, sealed_secrets: bytes | None
) -> None:
    """Write the archive next to `destination`, owner-only, then rename it into place."""
    staging = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    fd = os.open(staging, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, manifest.to_json())
            tar.add(database_copy, arcname=manifest.database_file, recursive=False)
            if sealed_secrets is not None:
                _add_bytes(tar, SECRETS, sealed_secrets)
        os.replace(staging, destination)
    finally:
        staging.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except FileNotFoundError as exc:
        raise BackupError(f"There is no file {archive}. Nothing was changed.") from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(
            f"{archive} is not a Sonta backup archive ({exc}). Nothing was changed."
        ) from exc


def _member(tar: tarfile.TarFile, name: str, archive: Path) -> bytes:
    try:
        stream = tar.extractfile(name)
        if stream is None:
            raise KeyError(name)
        return stream.read()
    except KeyError as exc:
        raise BackupError(
            f"{archive} lacks {name}: it is incomplete or not a Sonta backup. Nothing was changed."
        ) from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive} is damaged ({exc}). Nothing was changed.") from exc


def read_manifest(archive: Path) -> Manifest:
    with _open(archive) as tar:
        return Manifest.from_json(_member(tar, MANIFEST, archive), source=archive)


def read_sealed_secrets(archive: Path) -> bytes | None:
    with _open(archive) as tar:
        if SECRETS not in tar.getnames():
            return None
        return _member(tar, SECRETS, archive)


def extract_database(archive: Path, manifest: Manifest, target: Path) -> None:
    """Copy the archive's database to `target` (owner-only) and check it is the one the
    manifest describes."""
    with _open(archive) as tar:
        data = _member(tar, manifest.database_file, archive)
    fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    if file_sha256(target) != manifest.database_sha256:
        target.unlink()
        raise BackupError(
            f"{archive}'s database copy does not match its manifest (altered or damaged). "
            "Nothing was changed; choose another backup."
        )


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(
        passphrase.encode()
    )


def passphrase_problem(passphrase: str) -> str | None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return (
            f"The passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters "
            f"(got {len(passphrase)}); give it on standard input."
        )
    return None


def seal_secrets(secrets: dict[str, str], passphrase: str) -> bytes:
    """The secrets as JSON, encrypted under a key derived from `passphrase`."""
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_key(passphrase, salt)).encrypt(
        nonce, json.dumps(secrets).encode(), SECRETS_AAD
    )
    fields = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
    for name, value in (("salt", salt), ("nonce", nonce), ("ciphertext", ciphertext)):
        fields[name] = base64.b64encode(value).decode()
    return json.dumps(fields).encode()


def open_secrets(sealed: bytes, passphrase: str) -> dict[str, str]:
    try:
        fields = json.loads(sealed)
        salt, nonce, ciphertext = (
            base64.b64decode(fields[name]) for name in ("salt", "nonce", "ciphertext")
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError("The archive's sealed secrets are damaged. Nothing was changed.") from exc
    try:
        plain = AESGCM(_key(passphrase, salt)).decrypt(nonce, ciphertext, SECRETS_AAD)
    except InvalidTag:
        raise BackupError(
            "The passphrase does not open this backup's secrets: give the passphrase used "
            "for `sonta backup --with-secrets`. Nothing was changed."
        ) from None
    secrets: dict[str, str] = json.loads(plain)
    return secrets
