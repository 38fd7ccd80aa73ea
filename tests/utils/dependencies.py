"""Which importable modules only the dev extra installs, read from installed metadata.

The project's requirements are followed through every installed distribution (markers
and extras evaluated as pip would), once from the run-time extras and once from `dev`;
what only `dev` reaches is dev-only. A run-time module importing one of these works in
the test environment and fails in a person's install.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

PROJECT = "sonta-attendance"
DEV_EXTRA = "dev"


def _reached(extras: frozenset[str]) -> set[NormalizedName]:
    """Installed distributions the project's requirements with `extras` lead to."""
    found: set[NormalizedName] = set()
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    todo = [(canonicalize_name(PROJECT), extras)]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # left out on this platform or replaced (uv's overrides)
        found.add(name)
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *wanted}):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return found - {canonicalize_name(PROJECT)}


@cache
def dev_only_distributions() -> frozenset[NormalizedName]:
    extras = set(metadata.metadata(PROJECT).get_all("Provides-Extra") or [])
    assert DEV_EXTRA in extras, extras
    runtime = _reached(frozenset(extras - {DEV_EXTRA}))
    return frozenset(_reached(frozenset({DEV_EXTRA})) - runtime)


@cache
def dev_only_modules() -> frozenset[str]:
    """Top-level module names every provider of which is a dev-only distribution."""
    dev_only = dev_only_distributions()
    return frozenset(
        module
        for module, providers in metadata.packages_distributions().items()
        if all(canonicalize_name(p) in dev_only for p in providers)
    )
