"""Property-based run over the OpenAPI document: no operation answers with a 5xx.

Requests go to a real uvicorn server on loopback, signed in as a super admin so the
protected operations are exercised beyond their 401, with both schema-conforming
(positive) and schema-violating (negative) inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from schemathesis import GenerationMode

from server.backend.core.config import load_settings
from server.backend.core.context import Backend
from server.backend.main import create_app
from server.backend.models import Admin
from tests.server.conftest import SECRETS
from tests.server.live import serve
from tests.server.utils import FAST_ARGON2, FakeMailer
from tests.utils.fuzz import assert_no_server_error

EXAMPLES_PER_OPERATION = 10


def _operations() -> list[schemathesis.APIOperation]:
    """The operations of the OpenAPI document (building the app starts nothing)."""
    app = create_app(load_settings({**SECRETS, "SONTA_DATA_DIR": str(Path.cwd())}))
    schema = schemathesis.openapi.from_dict(app.openapi())
    return [result.ok() for result in schema.get_all_operations()]


def _has_inputs(operation: schemathesis.APIOperation) -> bool:
    return any(True for _ in operation.iter_parameters()) or len(operation.body) > 0


# Negative inputs only exist for operations that take some input.
CASES = [
    pytest.param(operation, mode, id=f"{operation.label} {mode.value}")
    for operation in _operations()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or _has_inputs(operation)
]


@dataclass
class LiveApi:
    url: str
    backend: Backend
    admin_id: uuid.UUID

    def auth(self) -> dict[str, str]:
        """A fresh sign-in per request, so a generated logout cannot end the run's session."""
        pair = self.backend.tokens.issue(self.admin_id, 0)
        return {"Authorization": f"Bearer {pair.access_token}"}


@pytest.fixture(scope="module")
def live_api(server_env: dict[str, str], migrated: None) -> Iterator[LiveApi]:
    app = create_app(load_settings(server_env), mailer=FakeMailer(), password_params=FAST_ARGON2)
    with serve(app) as url:
        backend: Backend = app.state.backend
        with backend.sessions() as session:
            admin = Admin(email=f"fuzz-{uuid.uuid4().hex[:8]}@example.org", role="super_admin")
            session.add(admin)
            session.commit()
            yield LiveApi(url, backend, admin.id)


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_no_operation_answers_with_a_server_error(
    operation: schemathesis.APIOperation, mode: GenerationMode, live_api: LiveApi
) -> None:
    assert_no_server_error(
        operation,
        mode,
        base_url=live_api.url,
        headers=live_api.auth(),
        examples=EXAMPLES_PER_OPERATION,
    )
