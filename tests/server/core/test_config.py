"""Configuration: production refuses unusable secrets in one message; development fills in."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from server.backend.core.config import load_settings
from server.backend.errors import ConfigError

GOOD = {
    "JWT_ACCESS_SECRET": secrets.token_urlsafe(40),
    "JWT_REFRESH_SECRET": secrets.token_urlsafe(40),
    "QR_SECRET": secrets.token_urlsafe(40),
    "EMBEDDING_ENCRYPTION_KEY": secrets.token_hex(16),
    "FRONTEND_URL": "https://attendance.example.org",
    "PUBLIC_URL": "https://attendance.example.org/",
    "NODE_ENV": "production",
    "DATABASE_URL": f"postgres://sonta:{secrets.token_hex(12)}@db.internal:5432/sonta",
}


def test_production_starts_with_good_secrets() -> None:
    settings = load_settings(GOOD)
    assert settings.is_production
    assert settings.jwt_access_secret == GOOD["JWT_ACCESS_SECRET"]


def test_production_refuses_with_one_message_naming_every_problem() -> None:
    env = {
        "APP_ENV": "production",
        "JWT_ACCESS_SECRET": "changeme",
        "QR_SECRET": "your-qr-secret-goes-here-please-change-it",
        "EMBEDDING_ENCRYPTION_KEY": "x" * 31,
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = caught.value.message
    assert "JWT_ACCESS_SECRET must be at least 32 characters, got 8" in message
    assert "JWT_REFRESH_SECRET is missing" in message
    assert "QR_SECRET looks like a placeholder" in message
    assert "EMBEDDING_ENCRYPTION_KEY must be exactly 32 characters" in message
    assert "got 31" in message
    assert "FRONTEND_URL is missing" in message
    assert "PUBLIC_URL is missing" in message
    assert "Production needs a database that outlives the container" in message
    assert "7 configuration problem(s)" in message


def test_production_refuses_identical_access_and_refresh_secrets() -> None:
    same = secrets.token_urlsafe(40)
    with pytest.raises(ConfigError, match="must be different"):
        load_settings({**GOOD, "JWT_ACCESS_SECRET": same, "JWT_REFRESH_SECRET": same})


def test_node_env_or_app_env_selects_production() -> None:
    env = {k: v for k, v in GOOD.items() if k != "NODE_ENV"}
    assert not load_settings(env).is_production
    assert load_settings({**env, "APP_ENV": "Production"}).is_production


def test_development_generates_missing_secrets_with_a_warning(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.WARNING):
        settings = load_settings({"SONTA_DATA_DIR": str(tmp_path)})
    assert settings.environment == "development"
    assert settings.embedding_encryption_key is not None
    assert len(settings.embedding_encryption_key) == 32
    assert settings.jwt_access_secret != settings.jwt_refresh_secret
    assert "EMBEDDING_ENCRYPTION_KEY" in caplog.text
    assert str(tmp_path / "dev-secrets.json") in caplog.text


def test_development_secrets_survive_a_restart_in_an_owner_only_file(tmp_path: Path) -> None:
    first = load_settings({"SONTA_DATA_DIR": str(tmp_path)})
    second = load_settings({"SONTA_DATA_DIR": str(tmp_path), "QR_SECRET": "q" * 8 + "x" * 40})
    assert second.embedding_encryption_key == first.embedding_encryption_key
    assert second.jwt_refresh_secret == first.jwt_refresh_secret
    assert second.qr_secret != first.qr_secret  # a value from the environment wins
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secrets.json"]


def test_damaged_development_secrets_are_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "dev-secrets.json").write_text("{}")
    with pytest.raises(ConfigError, match="damaged"):
        load_settings({"SONTA_DATA_DIR": str(tmp_path)})
    assert (tmp_path / "dev-secrets.json").read_text() == "{}"


def test_development_still_refuses_a_malformed_key() -> None:
    with pytest.raises(ConfigError, match="got 33"):
        load_settings({"EMBEDDING_ENCRYPTION_KEY": "k" * 33})


def test_malformed_number_is_named() -> None:
    with pytest.raises(ConfigError, match="JWT_ACCESS_EXPIRATION"):
        load_settings({"JWT_ACCESS_EXPIRATION": "soon"})


def test_settings_read_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "4100")
    monkeypatch.setenv("DATABASE_HOST", "db.internal")
    monkeypatch.setenv("DATABASE_NAME", "sonta_prod")
    settings = load_settings()
    assert settings.port == 4100
    url = settings.database_url()
    assert url.host == "db.internal"
    assert url.database == "sonta_prod"
    assert url.drivername == "postgresql+psycopg"


def test_embedded_database_lives_in_the_data_dir(tmp_path: object) -> None:
    settings = load_settings({"SONTA_DATA_DIR": str(tmp_path)})
    assert settings.embedded_database
    assert settings.database_url().database == f"{tmp_path}/sonta.db"


def test_cors_origin_is_frontend_url_without_path() -> None:
    settings = load_settings({"FRONTEND_URL": "https://attendance.example.org/app/"})
    assert settings.cors_origin == "https://attendance.example.org"


def test_frontend_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="FRONTEND_URL must be an http"):
        load_settings({"FRONTEND_URL": "javascript:alert(1)"})


def test_embedding_key_must_be_ascii() -> None:
    with pytest.raises(ConfigError, match="non-ASCII"):
        load_settings({"EMBEDDING_ENCRYPTION_KEY": "é" * 32})


def test_random_secrets_are_never_taken_for_placeholders() -> None:
    # 50 rounds: each new secret costs a strength estimate of ~20 ms.
    for _ in range(50):
        env = {
            **GOOD,
            "JWT_ACCESS_SECRET": secrets.token_urlsafe(40),
            "QR_SECRET": secrets.token_hex(24),
        }
        load_settings(env)


def test_an_explicit_mapping_ignores_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_HOST", "db.internal")
    monkeypatch.setenv("NODE_ENV", "production")
    settings = load_settings({"PORT": "4200"})
    assert settings.database_host is None
    assert not settings.is_production
    assert settings.port == 4200


def test_unknown_face_model_is_named_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"FACE_MODEL": "antelopev9"})
    assert "antelopev9" in caught.value.message
    assert "buffalo_l" in caught.value.message


def test_production_refuses_guessable_shared_secrets_and_an_http_front_end() -> None:
    """Issue 13 defect 5: `abcdefgh` x 4, QR_SECRET == JWT_ACCESS_SECRET, http:// accepted."""
    env = {
        **GOOD,
        "EMBEDDING_ENCRYPTION_KEY": "abcdefgh" * 4,
        "QR_SECRET": GOOD["JWT_ACCESS_SECRET"],
        "FRONTEND_URL": "http://attendance.example.org",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = caught.value.message
    assert "EMBEDDING_ENCRYPTION_KEY is guessable" in message
    assert 'python -c "import secrets; print(secrets.token_hex(32))"' in message
    assert "JWT_ACCESS_SECRET and QR_SECRET must be different" in message
    assert "FRONTEND_URL must use https in production" in message
    assert "3 configuration problem(s)" in message


def test_an_http_front_end_on_this_machine_is_allowed_for_a_local_trial() -> None:
    assert load_settings({**GOOD, "FRONTEND_URL": "http://localhost:3000"}).is_production


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(16), lambda: secrets.token_hex(32)])
def test_generated_secrets_always_pass_the_strength_check(make: Callable[[], str]) -> None:
    for _ in range(20):
        key = secrets.token_hex(16)
        env = {**GOOD, "EMBEDDING_ENCRYPTION_KEY": key, "QR_SECRET": make()}
        assert load_settings(env).embedding_encryption_key == key


def test_production_links_travel_over_https() -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL must use https in production"):
        load_settings({**GOOD, "PUBLIC_URL": "http://attendance.example.org"})


def test_several_backend_workers_need_postgresql_and_redis() -> None:
    """Workers share sign-in limits and live events only through Redis, and SQLite takes
    one writer at a time: more than one without them is refused, naming what is missing."""
    without_database = {k: v for k, v in GOOD.items() if k != "DATABASE_URL"}
    with pytest.raises(ConfigError) as caught:
        load_settings({**without_database, "BACKEND_WORKERS": "2"})
    assert (
        "BACKEND_WORKERS=2 needs PostgreSQL (DATABASE_URL or DATABASE_HOST) and Redis "
        "(REDIS_HOST or REDIS_URL); set them, or set 1"
    ) in caught.value.message
    with pytest.raises(ConfigError, match=r"BACKEND_WORKERS=3 needs Redis \(REDIS_HOST"):
        load_settings({**GOOD, "BACKEND_WORKERS": "3"})
    both = {"REDIS_URL": "redis://cache.internal:6379/0"}
    assert load_settings({**GOOD, **both, "BACKEND_WORKERS": "4"}).backend_workers == 4
    assert load_settings(GOOD).backend_workers == 1
    with pytest.raises(ConfigError, match="BACKEND_WORKERS"):
        load_settings({**GOOD, "BACKEND_WORKERS": "0"})


def test_the_face_service_url_follows_face_service_port_unless_set(tmp_path: Path) -> None:
    base = {"SONTA_DATA_DIR": str(tmp_path)}
    assert load_settings(base).face_service_url == "http://localhost:8000"
    moved = load_settings({**base, "FACE_SERVICE_PORT": "8100"})
    assert moved.face_service_url == "http://localhost:8100"
    given = {**base, "FACE_SERVICE_PORT": "8100", "FACE_SERVICE_URL": "http://faces:9000"}
    assert load_settings(given).face_service_url == "http://faces:9000"
    with pytest.raises(ConfigError, match="FACE_SERVICE_PORT"):
        load_settings({**base, "FACE_SERVICE_PORT": "eighty"})


def test_database_url_is_honoured_as_hosts_give_it() -> None:
    """Render and most container hosts hand over one postgres:// URL; it used to be
    ignored, so the server ran on an embedded file lost at the next deploy."""
    env = {"DATABASE_URL": "postgres://sonta:pw%40rd@db.internal:6543/sonta_prod?sslmode=require"}
    settings = load_settings(env)
    assert not settings.embedded_database
    url = settings.database_url()
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == ("db.internal", 6543, "sonta_prod")
    assert (url.username, url.password) == ("sonta", "pw@rd")
    assert url.query == {"sslmode": "require"}
    assert load_settings(GOOD).database_url().host == "db.internal"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mysql://sonta:hunter2-secret@db.internal/sonta", "got a mysql:// URL"),
        ("sqlite:////var/lib/sonta.db", "got a sqlite:// URL"),
        ("db.internal:5432", "is not a database URL"),
        ("postgresql:///sonta", "names no host"),
    ],
)
def test_a_database_url_that_is_not_postgresql_is_refused_without_echoing_it(
    value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": value})
    assert says in caught.value.message
    assert "postgresql://USER:PASSWORD@HOST:5432/sonta" in caught.value.message
    assert "hunter2" not in caught.value.message


def test_database_url_beside_database_host_is_refused_as_ambiguous() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL and DATABASE_HOST are both set"):
        load_settings({"DATABASE_URL": GOOD["DATABASE_URL"], "DATABASE_HOST": "other.internal"})


def test_production_refuses_the_embedded_database_in_one_sentence(tmp_path: Path) -> None:
    env = {k: v for k, v in GOOD.items() if k != "DATABASE_URL"}
    with pytest.raises(ConfigError) as caught:
        load_settings({**env, "SONTA_DATA_DIR": str(tmp_path)})
    (line,) = caught.value.message.splitlines()[1:]
    assert line == (
        "  - Production needs a database that outlives the container, and none is set: set "
        "DATABASE_URL (or DATABASE_HOST) to your PostgreSQL, or keep the embedded SQLite "
        f"file by setting ALLOW_EMBEDDED_DATABASE=true with SONTA_DATA_DIR ({tmp_path}) on "
        "a mounted volume"
    )
    assert load_settings({**env, "DATABASE_HOST": "db.internal"}).is_production


def test_allowing_the_embedded_database_still_needs_a_mounted_volume(tmp_path: Path) -> None:
    """tmp_path is on the machine's root file system (or a tmpfs): neither survives a
    redeploy of a container."""
    env = {k: v for k, v in GOOD.items() if k != "DATABASE_URL"}
    env |= {"SONTA_DATA_DIR": str(tmp_path / "data"), "ALLOW_EMBEDDED_DATABASE": "true"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert (
        f"ALLOW_EMBEDDED_DATABASE is set but SONTA_DATA_DIR ({tmp_path / 'data'}) is not on "
        "a mounted volume, so the database would be lost at the next deploy: mount a volume "
        f"there (docker run -v sonta-data:{tmp_path / 'data'}) or set DATABASE_URL"
    ) in caught.value.message
    assert "1 configuration problem(s)" in caught.value.message
