"""One schemathesis check shared by the API fuzz tests: no generated input gets a 5xx
that the operation does not document (a readiness probe's 503 is its answer)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import ServerError


@schemathesis.check
def no_undocumented_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Like `not_a_server_error`, but a 5xx the operation documents is its contract."""
    documented = case.operation.definition.raw.get("responses", {})
    if response.status_code >= 500 and str(response.status_code) not in documented:
        raise ServerError(operation=case.operation.label, status_code=response.status_code)
    return None


def assert_no_server_error(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    *,
    base_url: str,
    examples: int,
    headers: dict[str, str] | None = None,
) -> None:
    """Call ``operation`` with ``examples`` generated inputs against a live server."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url, headers=headers, checks=[no_undocumented_server_error]
        )

    check()
