"""Whether a directory lives on a mounted volume, so data kept there outlives the container.

A container's own file system (its root, "/") is thrown away at the next deploy; a
volume is mounted at a directory below it. Memory file systems (tmpfs, ramfs) are mounts
too, but they lose everything at the next restart, so they do not count. Read from
/proc/self/mountinfo, which names every mount point this process sees and its type.
"""

from __future__ import annotations

from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# Mounted, but gone at the next restart.
MEMORY_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs"})


def _unescape(field: str) -> str:
    """mountinfo writes a space as \\040, a tab as \\011 and so on (octal escapes)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts(mountinfo: str) -> list[tuple[Path, str]]:
    """(mount point, file system type) of each line of a mountinfo text, in its order."""
    found = []
    for line in mountinfo.splitlines():
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) >= 5 and rest:  # field 5 is the mount point
            found.append((Path(_unescape(parts[4])), rest.split()[0]))
    return found


def mount_of(path: Path, mountinfo: str) -> tuple[Path, str]:
    """The mount ``path`` is on: the deepest mount point above it (the last one mounted
    there wins, as in the kernel), and its file system type."""
    target = path.resolve()
    best: tuple[Path, str] = (Path("/"), "unknown")
    for point, kind in mounts(mountinfo):
        above = target == point or point in target.parents
        if above and len(point.parts) >= len(best[0].parts):
            best = (point, kind)
    return best


def on_mounted_volume(path: Path) -> bool:
    """True when ``path`` is on a mount other than the root that keeps data on restart."""
    try:
        text = MOUNTINFO.read_text()
    except OSError:
        return False  # not Linux, or no /proc: nothing shows a volume
    point, kind = mount_of(path, text)
    return point != Path("/") and kind not in MEMORY_FILE_SYSTEMS
