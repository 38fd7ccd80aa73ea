"""Which database the settings name, and why they may not be used.

Three ways in: DATABASE_URL (one URL, as Render and most container hosts give it), the
DATABASE_* fields (host, port, user, password, name), or neither: the embedded SQLite
file in SONTA_DATA_DIR. A production container on the embedded file loses every member,
face and record at its next deploy unless the file lives on a mounted volume, so
production refuses it unless ALLOW_EMBEDDED_DATABASE says so and the volume is there.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server.backend.core.volumes import on_mounted_volume
from server.backend.errors import ConfigError

# The schemes hosts use for PostgreSQL; all mean the one driver this project ships.
POSTGRES_SCHEMES = frozenset(
    {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg"}
)
EXAMPLE_URL = "postgresql://USER:PASSWORD@HOST:5432/sonta"


def postgres_url(value: str) -> URL:
    """DATABASE_URL as a URL for the psycopg driver; ConfigError when it is not PostgreSQL.

    The message never repeats the value: it carries the password.
    """
    try:
        url = make_url(value.strip())
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL is not a database URL; write it as {EXAMPLE_URL}"
        ) from None
    if url.drivername not in POSTGRES_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL must name a PostgreSQL database ({EXAMPLE_URL}), "
            f"got a {url.drivername}:// URL"
        )
    if not url.host:
        raise ConfigError(f"DATABASE_URL names no host; write it as {EXAMPLE_URL}")
    return url.set(drivername="postgresql+psycopg")


def database_problems(
    *,
    url: str | None,
    host: str | None,
    production: bool,
    allow_embedded: bool,
    data_dir: Path,
) -> list[str]:
    """Every reason the database settings cannot be used (each one sentence)."""
    if url and host:
        return [
            "DATABASE_URL and DATABASE_HOST are both set; keep one of them (DATABASE_URL "
            "alone, or DATABASE_HOST with DATABASE_PORT, DATABASE_USER, DATABASE_PASSWORD "
            "and DATABASE_NAME)"
        ]
    if url:
        try:
            postgres_url(url)
        except ConfigError as exc:
            return [exc.message]
        return []
    if host or not production:
        return []
    return _embedded_in_production_problems(allow_embedded=allow_embedded, data_dir=data_dir)


def _embedded_in_production_problems(*, allow_embedded: bool, data_dir: Path) -> list[str]:
    if not allow_embedded:
        return [
            "Production needs a database that outlives the container, and none is set: set "
            "DATABASE_URL (or DATABASE_HOST) to your PostgreSQL, or keep the embedded "
            "SQLite file by setting ALLOW_EMBEDDED_DATABASE=true with SONTA_DATA_DIR "
            f"({data_dir}) on a mounted volume"
        ]
    if not on_mounted_volume(data_dir):
        return [
            f"ALLOW_EMBEDDED_DATABASE is set but SONTA_DATA_DIR ({data_dir}) is not on a "
            "mounted volume, so the database would be lost at the next deploy: mount a "
            f"volume there (docker run -v sonta-data:{data_dir}) or set DATABASE_URL"
        ]
    return []
