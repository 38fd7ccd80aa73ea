"""Property-based run over the face-service's OpenAPI document against the running
process: generated uploads, queries and form fields never get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import GenerationMode

from server.face_service.app import create_app
from server.face_service.settings import FaceServiceSettings
from tests.face_service.conftest import ServiceProcess
from tests.utils.fuzz import assert_no_server_error

pytestmark = [pytest.mark.model, pytest.mark.network, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 15


def _operations() -> list[schemathesis.APIOperation]:
    """The operations of the OpenAPI document (building the app loads no model)."""
    schema = schemathesis.openapi.from_dict(create_app(FaceServiceSettings()).openapi())
    return [result.ok() for result in schema.get_all_operations()]


CASES = [
    pytest.param(operation, mode, id=f"{operation.label} {mode.value}")
    for operation in _operations()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or operation.method.upper() == "POST"
]


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_no_input_gets_a_server_error(
    operation: schemathesis.APIOperation, mode: GenerationMode, face_service: ServiceProcess
) -> None:
    assert_no_server_error(
        operation, mode, base_url=face_service.url, examples=EXAMPLES_PER_OPERATION
    )
