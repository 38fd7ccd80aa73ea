"""A small reader of the Dockerfile's stages and instructions, for the tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.container.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments), continuations joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            parts = args.split()
            found.append(Stage(parts[2] if len(parts) > 2 else "final"))
        if found:
            found[-1].instructions.append((keyword.upper(), " ".join(args.split())))
    return found


def final() -> Stage:
    return stages()[-1]


def stage(name: str) -> Stage:
    return next(s for s in stages() if s.name == name)
