"""One schemathesis check shared by the API fuzz tests: no generated input gets a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode


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
            base_url=base_url, headers=headers, checks=[schemathesis.checks.not_a_server_error]
        )

    check()
