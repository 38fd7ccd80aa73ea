"""Packs the PyInstaller bundle into a Debian package that installs under /opt/sonta-kiosk.

    python packaging/make_deb.py --bundle dist/sonta-kiosk --out dist [--version V]

The package holds the bundle, `sonta-kiosk` and `sonta-kiosk-autostart` in /usr/bin, the
menu entry and icon, and the start-at-login entry (off until `sonta-kiosk-autostart
enable`). The kiosk's data lives in each user's data folder, outside the package, so
upgrades, removal and purge keep it (see linux/postrm).
"""

from __future__ import annotations

import argparse
import shutil
import stat
import subprocess
import sys
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path

import debian_libs

HERE = Path(__file__).resolve().parent
LINUX = HERE / "linux"
PREFIX = Path("opt/sonta-kiosk")
# Besides the packages of the system libraries the bundle needs (debian_libs.depends): a
# font, which fontconfig finds by configuration, not by linking.
DEPENDS_UNLINKED = ("fonts-dejavu-core",)
RECOMMENDS = "gnome-keyring, libsecret-tools"


def control(version: str, arch: str, size_kb: int, depends: list[str]) -> str:
    return (
        f"Package: sonta-kiosk\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: Sonta Attendance <noreply@sonta.invalid>\nSection: misc\n"
        f"Priority: optional\nInstalled-Size: {size_kb}\n"
        f"Depends: {', '.join([*depends, *DEPENDS_UNLINKED])}\n"
        f"Recommends: {RECOMMENDS}\n"
        "Description: Sonta Attendance check-in kiosk\n"
        " Face-recognition check-in for church meetings: the kiosk window, its offline\n"
        " outbox and sync. The face model pack is fetched on first run or imported from\n"
        " a folder (sonta-kiosk kiosk import-pack DIR); it is not in this package.\n"
    )


def installed_size_kb(root: Path) -> int:
    """Installed-Size as dpkg-gencontrol counts it: each regular file rounded up to whole
    KiB (a hard-linked file once), 1 for each folder and symbolic link. Links are never
    followed: counting each bundled library once per link to it (and the /usr/bin links
    not at all) gave 856,783 KB for a bundle of 583 MB."""
    total, seen = 0, set()
    for path in root.rglob("*"):
        if path.relative_to(root).parts[0] == "DEBIAN":
            continue
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += -(-info.st_size // 1024)
        else:
            total += 1
    return total


def stage(bundle: Path, root: Path) -> None:
    """Lays out the package's files under `root`."""
    shutil.copytree(bundle, root / PREFIX, symlinks=True)
    share = root / PREFIX / "share"
    share.mkdir()
    shutil.copy2(LINUX / "sonta-kiosk-autostart.desktop", share)
    for script in ("sonta-kiosk-autostart", "sonta-kiosk-keyring"):
        shutil.copy2(LINUX / script, root / PREFIX / script)
    (root / "usr/bin").mkdir(parents=True)
    for name in ("sonta-kiosk", "sonta-kiosk-autostart", "sonta-kiosk-keyring"):
        (root / "usr/bin" / name).symlink_to(f"/{PREFIX}/{name}")
    apps = root / "usr/share/applications"
    apps.mkdir(parents=True)
    shutil.copy2(LINUX / "sonta-kiosk.desktop", apps)
    icons = root / "usr/share/icons/hicolor/scalable/apps"
    icons.mkdir(parents=True)
    shutil.copy2(LINUX / "sonta-kiosk.svg", icons)
    debian = root / "DEBIAN"
    debian.mkdir()
    for script in ("postinst", "postrm"):
        shutil.copy2(LINUX / script, debian / script)
        (debian / script).chmod(0o755)


def normalise_modes(root: Path) -> None:
    """Every folder 0755, every file 0755 if anyone may run it, else 0644.

    The bundle's own modes are whatever the build machine left: a world-writable file
    stayed rwxrwxrwx under /opt/sonta-kiosk, where any local user could replace code the
    kiosk runs. Owners are root (dpkg-deb --root-owner-group); links keep no mode.
    """
    for path in (root, *root.rglob("*")):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def build(bundle: Path, out: Path, version: str) -> Path:
    if not (bundle / "sonta-kiosk").is_file():
        sys.exit(f"error: no bundle at {bundle}; build it first: packaging/build.sh bundle")
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"sonta-kiosk_{version}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="sonta-deb-") as tmp:
        root = Path(tmp) / "root"
        stage(bundle, root)
        size_kb = installed_size_kb(root)
        needs = debian_libs.depends(bundle)
        (root / "DEBIAN/control").write_text(control(version, arch, size_kb, needs))
        normalise_modes(root)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z3", "--build", str(root), str(deb)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return deb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="dist/sonta-kiosk")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .deb")
    parser.add_argument("--version", default=installed_version("sonta-attendance"))
    args = parser.parse_args()
    print(f"package: {build(args.bundle, args.out, args.version)}")


if __name__ == "__main__":
    main()
