"""Small factories and fakes for the backend tests."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from server.backend.core.config import load_settings
from server.backend.core.context import Backend
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.passwords import Argon2Params, PasswordHasher
from server.backend.crud import admins as admins_crud
from server.backend.models import Admin
from server.backend.schemas.resources import AdminCreate

# Cheap argon2 for tests only; production uses Argon2Params() (OWASP).
FAST_ARGON2 = Argon2Params(memory_kib=1024, time_cost=1, parallelism=1)
PASSWORD = "correct horse battery staple"


@dataclass
class FakeMailer:
    """Records messages instead of sending them (as a configured mailer would deliver)."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    delivers: bool = True

    def send(self, *, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))

    def last_code(self, to: str) -> str:
        """The one-time code of the latest message to `to`."""
        for recipient, _subject, text in reversed(self.sent):
            if recipient == to:
                match = re.search(r"one-time code: (\S+)", text)
                assert match, text
                return match.group(1)
        raise AssertionError(f"no message to {to}")


def backend_of(client: TestClient) -> Backend:
    backend: Backend = client.app.state.backend  # type: ignore[attr-defined]
    return backend


def make_admin(
    client: TestClient,
    *,
    email: str | None = None,
    role: str = "admin",
    password: str | None = PASSWORD,
) -> Admin:
    backend = backend_of(client)
    email = email or f"admin-{uuid.uuid4().hex[:8]}@example.org"
    with backend.sessions() as session:
        admin = admins_crud.create(
            session=session,
            admin_in=AdminCreate(email=email, full_name="Test Admin", role=role),  # type: ignore[arg-type]
            password_hash=backend.passwords.hash(password) if password else None,
        )
        session.commit()
        return admin


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_headers(client: TestClient, role: str = "admin") -> dict[str, str]:
    admin = make_admin(client, role=role)
    return bearer(login(client, admin.email)["access_token"])


def session_of(client: TestClient) -> Session:
    return backend_of(client).sessions()


def admin_in_database(env: dict[str, str], prefix: str = "admin") -> str:
    """An admin with PASSWORD created straight in the database `env` names, for tests that
    run the backend as a separate process; returns the email."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.org"
    engine = make_engine(load_settings(env))
    try:
        with make_session_factory(engine)() as session:
            admins_crud.create(
                session=session,
                admin_in=AdminCreate(email=email),
                password_hash=PasswordHasher().hash(PASSWORD),
            )
            session.commit()
    finally:
        engine.dispose()
    return email


def password_login(client: httpx.Client, email: str) -> dict[str, str]:
    """Sign in with PASSWORD over HTTP; the token pair."""
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens
