"""A real backend for the kiosk's sync tests: uvicorn on loopback, stoppable and restartable
on the same address, plus the admin actions the tests need (members enrolled from real
photos, meetings, pairing codes)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import read_image_file
from kiosk.inference.quality import Purpose
from server.backend.core.config import Settings
from server.backend.main import create_app
from server.backend.services.mailer import Mailer
from tests.server.kiosk_utils import make_meeting, make_member
from tests.server.live import free_port, serve
from tests.server.utils import FAST_ARGON2, FakeMailer, admin_headers

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


@dataclass
class LiveBackend:
    """`admin` drives the backend in-process; kiosks talk HTTP to `url`."""

    settings: Settings
    admin: TestClient
    headers: dict[str, str]
    port: int = field(default_factory=free_port)
    # What the served backend "emails" (one-time codes, password links), kept across
    # restarts: a FakeMailer (as if email were set up) unless the test says otherwise.
    mailer: Mailer = field(default_factory=FakeMailer)
    _server: contextlib.ExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, middleware: type[Any] | None = None, **options: Any) -> None:
        """Serve on `port` (again); `middleware` wraps the app, e.g. to inject a fault."""
        stack = contextlib.ExitStack()
        app = create_app(self.settings, mailer=self.mailer, password_params=FAST_ARGON2)
        if middleware is not None:
            app.add_middleware(middleware, **options)
        stack.enter_context(serve(app, self.port))
        self._server = stack

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def pairing_code(self, name: str = "Front door") -> str:
        response = self.admin.post(
            "/api/kiosks/pairing-codes", json={"name": name}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["code"])

    def member(self, name: str, engine: FaceEngine, *photos: str, **fields: str) -> str:
        """A consenting member enrolled from real photos (none: no face)."""
        member_id = make_member(self.admin, self.headers, name, enrol=False, **fields)
        for name_of_photo in photos:
            pixels = read_image_file(FACES / f"{name_of_photo}.jpg").pixels
            face = engine.embed_single(pixels, purpose=Purpose.ENROLMENT)
            assert face.embedding is not None
            response = self.admin.post(
                f"/api/members/{member_id}/templates",
                json={
                    "embedding": [float(x) for x in face.embedding.vector],
                    "model_id": engine.model_id,
                },
                headers=self.headers,
            )
            assert response.status_code == 201, response.text
        return member_id

    def meeting(self, **fields: object) -> str:
        return make_meeting(self.admin, self.headers, **fields)

    def count(self, sql: str) -> int:
        with self.admin.app.state.backend.sessions() as session:  # type: ignore[attr-defined]
            return int(session.execute(text(sql)).scalar_one())


@contextlib.contextmanager
def live_backend(settings: Settings, mailer: Mailer | None = None) -> Iterator[LiveBackend]:
    """A backend on `settings` (FACE_MODEL=vectron), served until the block ends; its
    mail goes to `mailer` (default: a `FakeMailer`, as if email were set up)."""
    app = create_app(settings, mailer=mailer or FakeMailer(), password_params=FAST_ARGON2)
    with TestClient(app) as admin:
        backend = LiveBackend(settings, admin, admin_headers(admin))
        if mailer is not None:
            backend.mailer = mailer
        backend.start()
        try:
            yield backend
        finally:
            backend.stop()
