"""The image the Dockerfile builds FROM: the official Python base, or a local stand-in.

Where no container registry answers, a stand-in for python:3.11-slim-bookworm is made
with `debootstrap` (Debian's Python 3.11 with pip, as the official image has; about a
minute, once): its tarball and the imported image stay in the cache folder, so later
runs reuse them. The Debian mirror is the one this machine's apt already uses.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from tests.container.engine import Engine

OFFICIAL = "python:3.11-slim-bookworm"
# Bump when the recipe below changes, so a cached stand-in is made again.
STANDIN = "localhost/sonta-python-standin:3.11-slim-bookworm-1"
SUITE = "bookworm"
PACKAGES = "python3,python3-pip,python3-venv,ca-certificates"
APT_SOURCES = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]


def base_image(engine: Engine) -> str:
    """The official base when it can be pulled, else the stand-in (made if missing)."""
    if engine.has_image(OFFICIAL) or engine.pull(OFFICIAL):
        return OFFICIAL
    if not engine.has_image(STANDIN):
        tarball = engine.cache / f"{STANDIN.rsplit(':', 1)[1]}.tar"
        if not tarball.is_file():
            make_standin_tarball(tarball)
        engine(
            "import",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            'CMD ["python3"]',
            str(tarball),
            STANDIN,
            timeout=300,
        )
    return STANDIN


def debian_mirror() -> str | None:
    """The mirror this machine's apt uses for the suite, or None (debootstrap's default)."""
    for source in APT_SOURCES:
        if not source.is_file():
            continue
        text = source.read_text(errors="replace")
        for uri, suites in _entries(text):
            if SUITE in suites and "security" not in uri and uri.startswith("http"):
                return uri
    return None


def _entries(text: str) -> list[tuple[str, list[str]]]:
    """(URI, suites) of one-line `deb URI suite ...` and deb822 `URIs:`/`Suites:` stanzas."""
    found = [
        (m.group(1), [m.group(2)])
        for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M)
    ]
    for stanza in re.split(r"\n\s*\n", text):
        uris = re.search(r"^URIs:\s*(.+)$", stanza, re.M)
        suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
        if uris and suites and re.search(r"^Types:.*\bdeb\b", stanza, re.M):
            found += [(uri, suites.group(1).split()) for uri in uris.group(1).split()]
    return found


def make_standin_tarball(tarball: Path) -> None:
    """debootstrap a minimal Debian with Python 3.11 and pip, shaped like the official
    image (pip usable system-wide, `python` and `pip` on PATH), packed as a tarball."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent) as tmp:
        root = Path(tmp) / "root"
        mirror = debian_mirror()
        command = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root)]
        subprocess.run(command + ([mirror] if mirror else []), check=True, timeout=900)
        # The official image's pip installs system-wide; Debian marks its Python as
        # externally managed instead.
        for managed in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            managed.unlink()
        for name, target in (("python", "python3"), ("pip", "pip3")):
            if not (root / "usr/bin" / name).exists():
                (root / "usr/bin" / name).symlink_to(target)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            subprocess.run(["find", str(root / cache), "-type", "f", "-delete"], check=True)
        staging = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "-C", str(root), "--numeric-owner", "-cf", str(staging), "."],
            check=True,
            timeout=300,
        )
        staging.replace(tarball)
