"""The Debian package's control data and start-at-login switch, without building the
bundle: a small stand-in bundle with the links a PyInstaller bundle has, packed by the
real make_deb.py and dpkg-deb, and the real autostart script run as an ordinary user."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
AUTOSTART = ROOT / "packaging" / "linux" / "sonta-kiosk-autostart"
NOBODY = "65534"


def make_deb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_deb", ROOT / "packaging" / "make_deb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installed_size_counts_each_file_once_and_never_follows_links(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    libs = bundle / "_internal" / "PySide6" / "Qt" / "lib"
    libs.mkdir(parents=True)
    (bundle / "sonta-kiosk").write_bytes(os.urandom(100_000))
    (libs / "libQt6Core.so.6").write_bytes(os.urandom(3 * 1024 * 1024))
    for n in range(8):  # PyInstaller links libraries into the top folder
        (bundle / "_internal" / f"libQt6Core-{n}.so.6").symlink_to(libs / "libQt6Core.so.6")
    (bundle / "_internal" / "qt-lib").symlink_to(libs, target_is_directory=True)
    deb = make_deb().build(bundle, tmp_path / "out", "0.1.0")
    field = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Installed-Size"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files_kb = (100_000 + 1023) // 1024 + 3 * 1024
    # The files once, plus 1 KiB per folder and link and the package's small files.
    assert files_kb <= int(field) <= files_kb + 100, field


def test_enabling_for_every_account_as_an_ordinary_user_says_to_use_sudo(
    tmp_path: Path,
) -> None:
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    result = subprocess.run(
        [*as_nobody, "sh", str(AUTOSTART), "enable", "--system"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Changing the start at login for every account of this PC needs root: run sudo "
        "sonta-kiosk-autostart enable --system (or leave out --system to change it for "
        "your own account only). Nothing was changed.\n"
    )
    assert "Permission denied" not in result.stderr
    assert not Path("/etc/xdg/autostart/sonta-kiosk.desktop").exists()
