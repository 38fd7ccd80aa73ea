"""The .deb installs a tree nobody but root can change (issue 25).

PyInstaller's bundle keeps the build machine's modes: a world-writable file stayed
`rwxrwxrwx` under /opt/sonta-kiosk. A small bundle with hostile modes goes through the
real `make_deb.py` and `dpkg-deb`, is installed with dpkg into a throwaway root, and
the installed tree is checked file by file.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.test_bundle import ROOT, dpkg

pytestmark = [pytest.mark.slow]


def _hostile_bundle(folder: Path) -> None:
    (folder / "lib" / "open").mkdir(parents=True)
    launcher = folder / "sonta-kiosk"
    launcher.write_text("#!/bin/sh\necho kiosk\n")
    launcher.chmod(0o777)
    data = folder / "lib" / "data.bin"
    data.write_bytes(b"weights of nothing")
    data.chmod(0o666)
    tool = folder / "lib" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o6777)  # setuid and setgid too
    (folder / "lib" / "open").chmod(0o1777)


def test_installed_files_are_root_owned_and_not_writable_by_others(tmp_path: Path) -> None:
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    bundle.mkdir()
    _hostile_bundle(bundle)
    command = [sys.executable, str(ROOT / "packaging/make_deb.py"), "--bundle", str(bundle)]
    built = subprocess.run(
        [*command, "--out", str(out), "--version", "0.0.1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [deb] = out.glob("sonta-kiosk_0.0.1_*.deb")
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    owners = {line.split()[1] for line in contents.splitlines() if line}
    assert owners == {"root/root"}, owners
    root = tmp_path / "root"
    dpkg(root, "-i", str(deb))
    installed = root / "opt/sonta-kiosk"
    modes = {
        str(path.relative_to(installed)): stat.S_IMODE(path.lstat().st_mode)
        for path in (installed, *installed.rglob("*"))
        if not path.is_symlink()
    }
    assert modes["sonta-kiosk"] == 0o755
    assert modes["lib/tool"] == 0o755
    assert modes["lib/data.bin"] == 0o644
    assert modes["lib/open"] == 0o755
    unsafe = {name: oct(mode) for name, mode in modes.items() if mode & 0o7022}
    assert unsafe == {}, "writable by others, setuid, setgid or sticky"
