"""Which system libraries the bundle leaves to Debian packages, and the `Depends:` that
names them (packaging/debian_libs.py), with this machine's real dpkg database and real
libraries in a small stand-in bundle, without a build."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = Path("/usr/lib") / str(sysconfig.get_config_var("MULTIARCH"))
WHEEL_LIBS = Path(sysconfig.get_paths()["purelib"]) / "opencv_python_headless.libs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "packaging" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_system_copies_a_debian_package_owns_are_left_to_it() -> None:
    libpython = str(Path(sysconfig.get_config_var("LIBDIR")) / "libpython3.11.so.1.0")
    wheel_copy = str(next(WHEEL_LIBS.glob("libpng16-*.so*")))
    glib, zlib = str(SYSTEM / "libglib-2.0.so.0"), str(SYSTEM / "libz.so.1")
    collected = [glib, zlib, libpython, wheel_copy]
    # zlib's package installed it under /lib, glib's under /usr/lib: both are found.
    packaged = load("debian_libs").packaged_files(collected)
    assert packaged == {glib, zlib}
    rules = load("bundle_contents")
    assert [rules.left_to_debian(path, packaged) for path in collected] == [
        True,
        True,
        False,
        False,
    ]
    # The interpreter's library ships even where Debian's python package provides it.
    assert not rules.left_to_debian(str(SYSTEM / "libpython3.11.so.1.0"), {libpython})


def test_without_dpkg_the_bundle_keeps_its_system_copies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As on a build machine that is not Debian (the spec also builds elsewhere)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert load("debian_libs").packaged_files([str(SYSTEM / "libglib-2.0.so.0")]) == set()


def test_depends_names_the_package_of_each_library_the_bundle_needs_and_lacks(
    tmp_path: Path,
) -> None:
    """libfreetype needs libpng16, zlib, brotli and libc; libpng16 ships, so its package
    is not named, while zlib, which libpng16 also needs, is."""
    internal = tmp_path / "bundle" / "_internal"
    internal.mkdir(parents=True)
    for name in ("libfreetype.so.6", "libpng16.so.16"):
        shutil.copy(SYSTEM / name, internal / name)
    (internal / "notes.so.txt").write_text("not a library")
    depends = load("debian_libs").depends(tmp_path / "bundle")
    packages = [entry.split(" (>= ")[0] for entry in depends]
    assert packages == ["libbrotli1", "libc6", "zlib1g"]
    libc = depends[1]
    assert libc.startswith("libc6 (>= 2.") and "-" not in libc  # no Debian revision


def test_a_needed_library_no_package_provides_stops_the_build_naming_it(
    tmp_path: Path,
) -> None:
    """OpenCV's FFmpeg without the wheel's own libavcodec next to it."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    avformat = next(WHEEL_LIBS.glob("libavformat-*.so*"))
    shutil.copy(avformat, bundle / avformat.name)
    with pytest.raises(SystemExit, match=r"no Debian package .* provides .*libavcodec-"):
        load("debian_libs").depends(bundle)


def test_make_deb_writes_the_bundle_needs_into_depends(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    shutil.copy(SYSTEM / "libpng16.so.16", bundle / "_internal" / "libpng16.so.16")
    shutil.copy("/usr/bin/true", bundle / "sonta-kiosk")  # needs libc only
    deb = load("make_deb").build(bundle, tmp_path / "out", "0.1.0")
    field = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    names = [entry.split(" (")[0] for entry in field.strip().split(", ")]
    assert names == ["libc6", "zlib1g", "fonts-dejavu-core"]
