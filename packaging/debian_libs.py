"""The system libraries the bundle leaves to Debian packages, and the `Depends:` for them.

The spec asks which collected libraries a Debian package owns (`packaged_files`) and
leaves those out; make_deb.py then reads the bundle's own ELF `NEEDED` entries and names,
for each library the bundle needs and does not contain, the package that provides it on
the build machine, at least at the version built against (`depends`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

ARCH_SUFFIX = re.compile(r":[a-z0-9]+$")


def _usrmerge_twin(path: str) -> str:
    """The same file under the other half of a merged /usr: dpkg knows a file only by the
    path its package installed it at (/lib/... for zlib, /usr/lib/... for glib)."""
    return path.removeprefix("/usr") if path.startswith("/usr/") else "/usr" + path


def _owners(paths: Iterable[str]) -> dict[str, str]:
    """Each path dpkg knows, with the package that owns it; unknown paths are left out."""
    asked: dict[str, list[str]] = {}
    for path in paths:
        real = os.path.realpath(path)
        for file in (real, _usrmerge_twin(real)):
            asked.setdefault(file, []).append(path)
    found = subprocess.run(
        ["dpkg-query", "--search", *asked], capture_output=True, text=True, check=False
    ).stdout
    owners = {}
    for line in found.splitlines():
        package, _, file = line.partition(": ")
        # Two packages (", ") or a diversion owning a path: the bundle keeps its copy.
        if file in asked and not re.search(r"[ ,]", package):
            owners.update(dict.fromkeys(asked[file], ARCH_SUFFIX.sub("", package)))
    return owners


def packaged_files(paths: Iterable[str]) -> set[str]:
    """The paths (as given) of the files a Debian package installed on this machine; none
    where there is no dpkg (a bundle built on another system keeps its copies)."""
    system = [p for p in paths if p.startswith(("/lib", "/usr/lib"))]
    return set(_owners(system)) if system and shutil.which("dpkg-query") else set()


def _is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def needed_outside(bundle: Path) -> set[str]:
    """The libraries (sonames) the bundle's programs and libraries need and it lacks."""
    files = [path for path in bundle.rglob("*") if _is_elf(path)]
    inside = {path.name for path in bundle.rglob("*")}
    needed: set[str] = set()
    for start in range(0, len(files), 200):
        dynamic = subprocess.run(
            ["readelf", "--dynamic", "--wide", *map(str, files[start : start + 200])],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        needed.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    return needed - inside


def _system_paths(sonames: set[str]) -> dict[str, str]:
    """Where the dynamic linker of this machine finds each soname (64-bit entries)."""
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    found = {}
    for name, flags, path in re.findall(r"^\s+(\S+) \(([^)]*)\) => (\S+)$", cache, re.M):
        if name in sonames and "64" in flags and name not in found:
            found[name] = path
    return found


def _upstream_version(package: str) -> str:
    """The installed version without its Debian revision (2.36-9+deb12u13 -> 2.36), so a
    point release of the same library still satisfies it."""
    version = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Version}", package],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return version.rsplit("-", 1)[0] if "-" in version else version


def depends(bundle: Path) -> list[str]:
    """`package (>= version)` for each package providing a library the bundle needs and
    lacks. Fails, naming them, for libraries no package on this machine provides."""
    needed = needed_outside(bundle)
    paths = _system_paths(needed)
    owners = _owners(paths.values())
    unknown = sorted(name for name in needed if paths.get(name) not in owners)
    if unknown:
        raise SystemExit(
            f"error: no Debian package on this machine provides {', '.join(unknown)}, which "
            "the bundle needs; install the packages that do, or let the bundle carry them."
        )
    packages = sorted(set(owners.values()))
    return [f"{package} (>= {_upstream_version(package)})" for package in packages]
