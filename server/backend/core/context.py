"""The services one backend instance uses, built once per app in its lifespan."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.backend.core.config import Settings
from server.backend.core.db import (
    make_engine,
    make_probe_engine,
    make_read_session_factory,
    make_session_factory,
)
from server.backend.core.embedded import RecentTrouble
from server.backend.core.lanes import Lanes
from server.backend.core.metrics import Metrics
from server.backend.core.security.passwords import Argon2Params, PasswordHasher
from server.backend.core.security.qr import QrSigner
from server.backend.core.security.templates import TemplateCipher
from server.backend.core.security.tokens import TokenService
from server.backend.core.space_reserve import SpaceReserve
from server.backend.crud.refresh_families import RefreshFamilies
from server.backend.crud.single_use import SingleUseTokens
from server.backend.errors import ConfigError
from server.backend.face_model import ServerFaceModel
from server.backend.kv.failsafe import FailSafeStore
from server.backend.kv.store import (
    KeyValueStore,
    MemoryStore,
    RedisStore,
    redis_async_client,
    redis_client,
)
from server.backend.services.event_relay import EventRelay
from server.backend.services.face_client import FaceServiceClient
from server.backend.services.face_gallery import Galleries
from server.backend.services.live_events import StreamSlots
from server.backend.services.mailer import ConsoleMailer, Mailer, ResendMailer, UnsentMailer
from server.backend.services.throttle import Throttle
from server.backend.services.uploads import DecodeSlots
from server.backend.tasks.migrate import head_revision

logger = logging.getLogger(__name__)


@dataclass
class Backend:
    """Everything a request handler may need besides the request itself."""

    settings: Settings
    engine: Engine
    # Outside the request pool, for health probes.
    probe_engine: Engine
    sessions: sessionmaker[Session]
    # Autocommit sessions on the same pool, for signed-in reads (`SignedInReads`).
    read_sessions: sessionmaker[Session]
    store: KeyValueStore
    # Single-use tokens, durable in the database (they must survive the cache).
    once: SingleUseTokens
    # Live events go out through here, after commit, off the request's path.
    events: EventRelay
    tokens: TokenService
    passwords: PasswordHasher
    throttle: Throttle
    mailer: Mailer
    face_service: FaceServiceClient
    qr: QrSigner
    cipher: TemplateCipher
    face_model: ServerFaceModel
    # Decrypted templates per model id, caught up from the gallery event log per request.
    galleries: Galleries
    # The newest migration; /health compares the database against it.
    schema_head: str | None
    lanes: Lanes = field(default_factory=Lanes)
    streams: StreamSlots = field(default_factory=StreamSlots)
    embedded_trouble: RecentTrouble = field(default_factory=RecentTrouble)
    # Room kept aside on the embedded database's disk so admins can sign in when it fills.
    space_reserve: SpaceReserve = field(default_factory=SpaceReserve)
    # Bounds the image decodes this process runs at once (uploads are untrusted).
    decodes: DecodeSlots = field(default_factory=DecodeSlots)
    # What /metrics reports as counted (the app's middleware counts into the same one).
    metrics: Metrics = field(default_factory=Metrics)

    def close(self) -> None:
        self.events.close()
        self.face_service.close()
        self.store.close()
        self.lanes.close()
        self.engine.dispose()
        self.probe_engine.dispose()


def make_store(settings: Settings) -> KeyValueStore:
    """Redis when REDIS_HOST or REDIS_URL is set (with a per-process fallback while it is
    unreachable), else the in-process store."""
    if settings.redis_host or settings.redis_url:
        client = redis_client(
            host=settings.redis_host,
            port=settings.redis_port,
            password=settings.redis_password,
            url=settings.redis_url,
        )
        async_client = redis_async_client(
            host=settings.redis_host,
            port=settings.redis_port,
            password=settings.redis_password,
            url=settings.redis_url,
        )
        primary = RedisStore(client, prefix=settings.redis_key_prefix, async_client=async_client)
        return FailSafeStore(primary)
    logger.info("REDIS_HOST is not set: using the in-process store (one process only)")
    return MemoryStore()


def make_mailer(settings: Settings) -> Mailer:
    if settings.resend_api_key and settings.email_from:
        return ResendMailer(api_key=settings.resend_api_key, sender=settings.email_from)
    return UnsentMailer() if settings.is_production else ConsoleMailer()


def build_backend(
    settings: Settings,
    *,
    mailer: Mailer | None = None,
    password_params: Argon2Params | None = None,
    metrics: Metrics | None = None,
) -> Backend:
    """Wire the services from settings; `mailer` and `password_params` are for tests."""
    metrics = metrics or Metrics()
    access, refresh = (
        _secret(settings, "jwt_access_secret"),
        _secret(settings, "jwt_refresh_secret"),
    )
    engine = make_engine(settings)
    store = make_store(settings)
    sessions = make_session_factory(engine)
    cipher = TemplateCipher(
        _secret(settings, "embedding_encryption_key"),
        previous=settings.previous_embedding_keys(),
    )
    backend = Backend(
        settings=settings,
        engine=engine,
        probe_engine=make_probe_engine(settings),
        sessions=sessions,
        read_sessions=make_read_session_factory(engine),
        store=store,
        once=SingleUseTokens(sessions),
        events=EventRelay(
            store, observe=metrics.observe_event, on_failure=metrics.publish_failures.inc
        ),
        tokens=TokenService(
            access_secret=access,
            refresh_secret=refresh,
            access_ttl=settings.jwt_access_expiration,
            refresh_ttl=settings.jwt_refresh_expiration,
            families=RefreshFamilies(sessions),
        ),
        passwords=PasswordHasher(password_params),
        throttle=Throttle(store),
        mailer=mailer or make_mailer(settings),
        face_service=FaceServiceClient(
            settings.face_service_url,
            api_key=settings.face_service_api_key,
            observe=metrics.observe_face_call,
        ),
        qr=QrSigner(_secret(settings, "qr_secret"), previous=settings.previous_qr_secrets()),
        cipher=cipher,
        face_model=ServerFaceModel(settings.face_model, production=settings.is_production),
        galleries=Galleries(cipher),
        schema_head=head_revision(engine),
        metrics=metrics,
    )
    if settings.embedded_database:
        backend.space_reserve = SpaceReserve(settings.sonta_data_dir / "space-reserve")
    backend.embedded_trouble.watch(sessions)
    return backend


def _secret(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name.upper()} is missing; build settings with load_settings()")
    return value
