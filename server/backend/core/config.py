"""Settings from the environment, with the variable names of the deployment guide.

`load_settings()` is the only way in: it reads the environment, then either refuses
unusable secrets (production: one message naming every problem) or, in development,
fills the missing ones with a warning, so a laptop needs no setup. Those are generated
on first start and kept in the data directory (owner-only file), so face templates
encrypted with them, sessions and badges survive a restart.

Besides the deployment guide's variables, a few optional ones:
SONTA_DATA_DIR (embedded SQLite location, default ~/.local/share/sonta),
REDIS_KEY_PREFIX (default "sonta:"), and QR_SECRET_PREVIOUS /
EMBEDDING_ENCRYPTION_KEY_PREVIOUS (comma-separated earlier secrets, still accepted for
verifying and decrypting while codes expire and `sonta templates re-encrypt` runs).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy import URL
from zxcvbn import zxcvbn

from kiosk.inference import UnknownPackError, get_pack_spec
from server.backend.core import public_url
from server.backend.core.database_config import database_problems, postgres_url
from server.backend.core.datadir import prepare_data_dir
from server.backend.errors import ConfigError

logger = logging.getLogger(__name__)

SECRET_NAMES = ("JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET", "QR_SECRET", "EMBEDDING_ENCRYPTION_KEY")
MIN_SECRET_LENGTH = 32
EMBEDDING_KEY_LENGTH = 32
MIN_SECRET_GUESSES_LOG10 = 20
HOW_TO_GENERATE = (
    'generate one with: python -c "import secrets; print(secrets.token_hex(32))" '
    "(for EMBEDDING_ENCRYPTION_KEY: secrets.token_hex(16), exactly 32 characters)"
)
# Fragments that betray a value copied from an example file rather than generated. Each
# is long enough (or has punctuation) that a random secret practically never contains it.
_DEFAULT_LOOKING = (
    "change",
    "secret",
    "example",
    "default",
    "password",
    "placeholder",
    "your-",
    "your_",
)


# Set while `load_settings` builds from an explicit mapping, so the process environment
# cannot leak into settings meant to be exactly that mapping.
_ONLY_GIVEN_VALUES: ContextVar[bool] = ContextVar("only_given_values", default=False)


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "sonta"


class Settings(BaseSettings):
    """Every setting the backend reads; field names match the environment variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _face_service_url_follows_its_port(cls, data: Any) -> Any:
        """FACE_SERVICE_PORT moves the combined setup's face-service; unless
        FACE_SERVICE_URL is set, the backend looks for it there."""
        if isinstance(data, dict) and not data.get("face_service_url"):
            port = data.get("face_service_port")
            if port not in (None, ""):
                data = {**data, "face_service_url": f"http://localhost:{port}"}
        return data

    # The whole connection as one URL (postgres:// or postgresql://), as Render and most
    # hosts give it; an alternative to the DATABASE_* fields, never beside them.
    database_url_value: str | None = Field(default=None, validation_alias="database_url")
    database_host: str | None = None
    database_port: int = 5432
    database_user: str = "postgres"
    database_password: str | None = None
    database_name: str = "sonta"

    redis_host: str | None = None
    redis_port: int = 6379
    redis_password: str | None = None
    redis_url: str | None = None
    # Lets several deployments (or test sessions) share one Redis without collisions.
    redis_key_prefix: str = "sonta:"

    jwt_access_secret: str | None = None
    jwt_refresh_secret: str | None = None
    jwt_access_expiration: int = Field(default=3600, gt=0)
    jwt_refresh_expiration: int = Field(default=7_776_000, gt=0)
    qr_secret: str | None = None
    # Comma-separated earlier values, still accepted while codes signed with them expire.
    qr_secret_previous: str = ""
    embedding_encryption_key: str | None = None
    # Comma-separated earlier keys, so templates stay readable until `re-encrypt` runs.
    embedding_encryption_key_previous: str = ""

    frontend_url: str | None = None
    # Base of links in QR codes and emails; see public_url.py (required in production).
    public_url: str | None = None
    # The church's IANA time zone (e.g. Africa/Accra): exports show local times in it.
    timezone: str = "UTC"
    # The API docs and OpenAPI document; unset: on in development, off in production.
    api_docs: bool | None = None
    port: int = 3000
    node_env: str | None = None
    app_env: str | None = None
    super_admin_email: str | None = None
    resend_api_key: str | None = None
    email_from: str | None = None

    # Comma-separated addresses or networks of the proxies in front of the backend; only
    # their X-Forwarded-For is believed. Empty: none, the peer is the client.
    trusted_proxies: str = ""
    # A production server refuses kiosk pairing over plain http (code, credential, device
    # secret and then the gallery would travel in clear); true allows it, for a kiosk on
    # the venue's own network only.
    allow_http_pairing: bool = False

    # Production keeps the embedded SQLite file only when this is set and the data
    # directory is a mounted volume (anything else is lost at the next deploy).
    allow_embedded_database: bool = False

    # Backend processes sharing PORT, each with its own database pool (up to 20
    # connections). More than one needs PostgreSQL and Redis, which they share.
    backend_workers: int = Field(default=1, ge=1, le=32)

    face_service_url: str = "http://localhost:8000"
    # The combined setup's face-service port; the URL above follows it unless set.
    face_service_port: int | None = Field(default=None, ge=1, le=65535)
    # Only in the separate-container setup, where the face-service requires it.
    face_service_api_key: str | None = None
    face_model: str = "buffalo_l"
    face_model_dir: str | None = None
    omp_num_threads: int | None = None

    sonta_data_dir: Path = Field(default_factory=_default_data_dir)

    # A kiosk's gallery holds the people of the meetings it serves that are open or start
    # within this many hours (so an offline kiosk is ready), and nobody else's face.
    gallery_lookahead_hours: float = Field(default=24, ge=0, le=24 * 14)

    # Scheduled backups (`sonta backup --scheduled`, run by supervisord.conf): hours
    # between archives (0: none), how many to keep, and where (default: data dir/backups).
    backup_interval_hours: float = Field(default=24, ge=0)
    backup_keep: int = Field(default=14, ge=1)
    backup_dir: Path | None = None
    # Serves GET /metrics to a scraper sending it as a bearer token (unset: no /metrics).
    metrics_token: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The process environment, unless `load_settings` was handed a mapping."""
        if _ONLY_GIVEN_VALUES.get():
            return (init_settings,)
        return (init_settings, env_settings)

    @property
    def environment(self) -> Literal["production", "development"]:
        """Production when either NODE_ENV or APP_ENV says so."""
        values = {(self.node_env or "").strip().lower(), (self.app_env or "").strip().lower()}
        return "production" if "production" in values else "development"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def embedded_database(self) -> bool:
        return not self.database_host and not self.database_url_value

    @property
    def cors_origin(self) -> str:
        """The one origin CORS allows: FRONTEND_URL without a trailing slash or path."""
        parts = urlsplit(self.frontend_url or f"http://localhost:{self.port}")
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def zone(self) -> ZoneInfo:
        """TIMEZONE as a zone (checked at start by `settings_problems`)."""
        return ZoneInfo(self.timezone)

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def public_base_url(self) -> str:
        """PUBLIC_URL without a trailing slash, or in development the LAN default."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return public_url.development_default(self.port)

    def database_url(self) -> URL:
        """PostgreSQL from DATABASE_URL or DATABASE_*, or SQLite inside the data directory."""
        if self.database_url_value:
            return postgres_url(self.database_url_value)
        if self.database_host:
            return URL.create(
                "postgresql+psycopg",
                username=self.database_user,
                password=self.database_password,
                host=self.database_host,
                port=self.database_port,
                database=self.database_name,
            )
        return URL.create("sqlite+pysqlite", database=str(self.sonta_data_dir / "sonta.db"))

    def trusted_proxy_list(self) -> list[str]:
        return [p for p in (part.strip() for part in self.trusted_proxies.split(",")) if p]

    def previous_qr_secrets(self) -> list[str]:
        return [s for s in (p.strip() for p in self.qr_secret_previous.split(",")) if s]

    def previous_embedding_keys(self) -> list[str]:
        keys = self.embedding_encryption_key_previous.split(",")
        return [k for k in (p.strip() for p in keys) if k]


def _looks_default(value: str) -> bool:
    lowered = value.lower()
    return len(set(value)) < 8 or any(fragment in lowered for fragment in _DEFAULT_LOOKING)


@functools.lru_cache(maxsize=64)  # zxcvbn takes ~20 ms a value; settings load often in tests
def _guessable(value: str) -> bool:
    """True unless the value looks random: zxcvbn needs at least 10^20 guesses for it.

    Generated values clear this by far (32 hex characters from `secrets.token_hex(16)`:
    never below 10^27 in 300 samples); `abcdefgh` x 4 needs about 10^2.
    """
    return float(zxcvbn(value, max_length=128)["guesses_log10"]) < MIN_SECRET_GUESSES_LOG10


def _secret_problems(name: str, value: str | None, *, production: bool) -> list[str]:
    """Problems with one secret; a missing one is only a problem in production."""
    if value is None or not value.strip():
        return [f"{name} is missing"] if production else []
    if name == "EMBEDDING_ENCRYPTION_KEY":
        if len(value) != EMBEDDING_KEY_LENGTH:
            return [f"{name} must be exactly {EMBEDDING_KEY_LENGTH} characters, got {len(value)}"]
        if len(value.encode()) != EMBEDDING_KEY_LENGTH:
            return [f"{name} must be 32 ASCII characters; it has non-ASCII ones"]
    elif len(value) < MIN_SECRET_LENGTH:
        return [f"{name} must be at least {MIN_SECRET_LENGTH} characters, got {len(value)}"]
    return _strength_problems(name, value) if production else []


def _strength_problems(name: str, value: str) -> list[str]:
    if _looks_default(value):
        return [f"{name} looks like a placeholder value; {HOW_TO_GENERATE}"]
    if _guessable(value):
        return [f"{name} is guessable (repeats, sequences or words); {HOW_TO_GENERATE}"]
    return []


def _distinct_problems(settings: Settings) -> list[str]:
    """Every secret must differ from the others: one leak must not unlock the rest."""
    values: dict[str, list[str]] = {}
    for name in SECRET_NAMES:
        value = getattr(settings, name.lower())
        if value:
            values.setdefault(value, []).append(name)
    return [
        f"{' and '.join(names)} must be different" for names in values.values() if len(names) > 1
    ]


def _frontend_problems(url: str | None, *, production: bool) -> list[str]:
    if url is None:
        return ["FRONTEND_URL is missing"] if production else []
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"FRONTEND_URL must be an http(s) URL, got {url!r}"]
    if production and parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        return [f"FRONTEND_URL must use https in production, got {url!r}"]
    return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_problems(settings: Settings) -> list[str]:
    """Every reason these settings cannot be used, in a stable order."""
    production = settings.is_production
    problems: list[str] = []
    for name in SECRET_NAMES:
        value = getattr(settings, name.lower())
        problems += _secret_problems(name, value, production=production)
    problems += _distinct_problems(settings)
    for key in settings.previous_embedding_keys():
        if len(key) != EMBEDDING_KEY_LENGTH:
            problems.append(
                f"EMBEDDING_ENCRYPTION_KEY_PREVIOUS entries must be exactly 32 characters, "
                f"got {len(key)}"
            )
    problems += _frontend_problems(settings.frontend_url, production=production)
    problems += _public_url_problems(settings.public_url, production=production)
    problems += _proxy_problems(settings.trusted_proxy_list())
    problems += _face_model_problems(settings.face_model)
    problems += _timezone_problems(settings.timezone)
    problems += _worker_problems(settings)
    problems += database_problems(
        url=settings.database_url_value,
        host=settings.database_host,
        production=production,
        allow_embedded=settings.allow_embedded_database,
        data_dir=settings.sonta_data_dir,
    )
    if settings.metrics_token is not None and len(settings.metrics_token) < MIN_SECRET_LENGTH:
        problems.append(
            f"METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters, got "
            f"{len(settings.metrics_token)}; {HOW_TO_GENERATE}"
        )
    password = settings.database_password
    if production and settings.database_host and password and _looks_default(password):
        problems.append("DATABASE_PASSWORD looks like a placeholder value")
    return problems


def _public_url_problems(value: str | None, *, production: bool) -> list[str]:
    if value is None or not value.strip():
        if not production:
            return []
        return [
            "PUBLIC_URL is missing: set the address phones and email links use to reach "
            "this server, e.g. https://attendance.example.org"
        ]
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        return [f"PUBLIC_URL must be an http(s) URL without a query, got {value!r}"]
    if production and parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        # Sign-in links and check-in tickets travel in it.
        return [f"PUBLIC_URL must use https in production, got {value!r}"]
    return []


def _proxy_problems(proxies: list[str]) -> list[str]:
    problems = []
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(
                f"TRUSTED_PROXIES entries must be IP addresses or networks (10.0.0.0/8), "
                f"got {proxy!r}"
            )
    return problems


def _worker_problems(settings: Settings) -> list[str]:
    """Several backend processes share the data, sign-in limits and live events only
    through PostgreSQL and Redis: an in-process store would give each process its own,
    and SQLite takes one writer at a time."""
    workers = settings.backend_workers
    needs = [
        what
        for what, there in (
            ("PostgreSQL (DATABASE_URL or DATABASE_HOST)", not settings.embedded_database),
            ("Redis (REDIS_HOST or REDIS_URL)", settings.redis_host or settings.redis_url),
        )
        if not there
    ]
    if workers == 1 or not needs:
        return []
    return [f"BACKEND_WORKERS={workers} needs {' and '.join(needs)}; set them, or set 1"]


def _timezone_problems(name: str) -> list[str]:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"TIMEZONE must be a time zone name such as Africa/Accra, got {name!r}"]
    return []


def _face_model_problems(name: str) -> list[str]:
    try:
        get_pack_spec(name)
    except UnknownPackError as exc:
        return [str(exc)]
    return []


DEV_SECRETS_FILE = "dev-secrets.json"


def _development_secrets(settings: Settings) -> tuple[dict[str, str], Path | None]:
    """The missing secrets, from the data directory's file (created on first start)."""
    missing = [name for name in SECRET_NAMES if not getattr(settings, name.lower())]
    if not missing:
        return {}, None
    path = settings.sonta_data_dir / DEV_SECRETS_FILE
    stored = _read_or_create_secrets(path)
    return {name.lower(): stored[name] for name in missing}, path


def _read_or_create_secrets(path: Path) -> dict[str, str]:
    prepare_data_dir(path.parent)
    # token_hex(16) is exactly 32 ASCII characters, which also suits the AES key.
    fresh = {
        name: secrets.token_hex(16 if name == "EMBEDDING_ENCRYPTION_KEY" else 32)
        for name in SECRET_NAMES
    }
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(fresh))
    staging.chmod(0o600)
    try:
        os.link(staging, path)  # atomic create-if-absent: concurrent starts agree on one
    except FileExistsError:
        pass
    finally:
        staging.unlink()
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}); restore it from a backup.") from exc
    if not isinstance(stored, dict) or not all(
        isinstance(stored.get(n), str) for n in SECRET_NAMES
    ):
        raise ConfigError(f"{path} is damaged; restore it from a backup.")
    return stored


def load_settings(environ: Mapping[str, str] | None = None, *, announce: bool = True) -> Settings:
    """Read, check and complete the settings; raise ConfigError naming every problem.

    ``announce=False`` skips the development-secrets warning, for the commands that run
    before the server at each start (which gives it once).
    """
    try:
        settings = _build(environ)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(_message(lines)) from None
    problems = settings_problems(settings)
    if problems:
        raise ConfigError(_message(problems))
    generated, path = _development_secrets(settings)
    if generated and announce:
        logger.warning(
            "Development: %s not set; using the ones generated on first start and kept in "
            "%s. Set them in the environment for production.",
            ", ".join(name.upper() for name in generated),
            path,
        )
    if generated:
        settings = settings.model_copy(update=generated)
    return settings


def _build(environ: Mapping[str, str] | None) -> Settings:
    if environ is None:
        return Settings()
    known = {
        str(field.validation_alias or name).upper() for name, field in Settings.model_fields.items()
    }
    values: dict[str, Any] = {k.lower(): v for k, v in environ.items() if k.upper() in known}
    token = _ONLY_GIVEN_VALUES.set(True)
    try:
        return Settings(**values)
    finally:
        _ONLY_GIVEN_VALUES.reset(token)


def _message(problems: list[str]) -> str:
    listed = "\n".join(f"  - {p}" for p in problems)
    return f"Refusing to start: {len(problems)} configuration problem(s):\n{listed}"
