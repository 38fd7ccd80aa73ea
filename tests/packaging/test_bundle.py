"""The kiosk's desktop bundle and Debian package, built and run for real.

PyInstaller builds the one-folder bundle (its work folder cached in ~/.cache/sonta-kiosk,
so a rebuild re-uses the analysis); the bundled executable runs `kiosk self-test`
offscreen on the offline pack and a folder of real photos; `dpkg-deb` packs it; dpkg
installs it into a temporary root, upgrades it over a kiosk with queued check-ins and
purges it, and the check-ins are still there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.inference.pack_registry import get_pack_spec
from kiosk.inference.packs import package_dir
from kiosk.storage.local_store import LocalStore
from tests.audio import null_sink
from tests.kiosk.conftest import vectron_dir
from tests.kiosk.keyring_backend import FolderKeyring
from tests.kiosk.store_utils import a_checkin

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "tests" / "data" / "faces"
CACHE = Path(os.environ.get("SONTA_BUILD_CACHE", Path.home() / ".cache" / "sonta-kiosk"))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
KEYRING_PATH = Path(__file__).resolve().parent / "keyring_path"


@pytest.fixture(scope="module")
def bundle() -> Path:
    dist = CACHE / "test-dist"
    env = {**os.environ, "SONTA_DIST": str(dist), "SONTA_BUILD_CACHE": str(CACHE)}
    subprocess.run(["bash", str(ROOT / "packaging" / "build.sh"), "bundle"], env=env, check=True)
    return dist / "sonta-kiosk"


@pytest.fixture(scope="module")
def debs(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("debs")
    made = {}
    for version in ("0.1.0", "0.1.1"):
        subprocess.run(
            [
                PYTHON,
                str(ROOT / "packaging/make_deb.py"),
                *("--bundle", str(bundle)),
                *("--out", str(out), "--version", version),
            ],
            check=True,
        )
        made[version] = next(out.glob(f"sonta-kiosk_{version}_*.deb"))
    return made


@pytest.fixture
def kiosk_env(tmp_path: Path) -> dict[str, str]:
    """A display-less session whose keyring is a folder in tmp_path (see keyring_path/)."""
    config = tmp_path / "config"
    (config / "python_keyring").mkdir(parents=True)
    (config / "python_keyring" / "keyringrc.cfg").write_text(
        "[backend]\ndefault-keyring=sonta_test_keyring.TestFolderKeyring\n"
        f"keyring-path={KEYRING_PATH}\n"
    )
    (tmp_path / "keyring").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACE_MODEL", "PYTHON"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(config),
        SONTA_TEST_KEYRING_DIR=str(tmp_path / "keyring"),
        SONTA_KIOSK_DIR=str(tmp_path / "kiosk"),
        FACE_MODEL_CACHE=str(tmp_path / "models"),  # nothing there: never downloads
    )
    return env


def self_test(
    executable: Path, env: dict[str, str], *pack: str
) -> subprocess.CompletedProcess[str]:
    pack = pack or ("--pack", "vectron", "--pack-dir", str(vectron_dir()))
    return subprocess.run(
        [str(executable), "kiosk", "self-test", *pack, "--source", str(FACES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_bundle_passes_its_self_test_and_holds_no_weights(
    bundle: Path, kiosk_env: dict[str, str]
) -> None:
    result = self_test(bundle / "sonta-kiosk", kiosk_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sonta_test_keyring.TestFolderKeyring, unlocked" in result.stdout
    assert "vectron@" in result.stdout and "face(s) in the frame" in result.stdout
    assert not list(bundle.rglob("*.onnx"))
    plugins = {p.name for p in bundle.rglob("plugins/platforms/*.so")}
    assert plugins == {"libqxcb.so", "libqoffscreen.so", "libqwayland.so"}
    assert not list(bundle.rglob("server/*"))


def test_the_bundle_leaves_out_what_the_kiosk_never_loads(bundle: Path) -> None:
    internal = bundle / "_internal"
    for absent in ("insightface", "scipy", "scipy.libs", "skimage", "onnx", "ml_dtypes"):
        assert not (internal / absent).exists(), absent
    assert not list(internal.glob("PIL/_avif*")) and not list(internal.glob("pillow.libs/libavif*"))
    assert not list(bundle.rglob("shape_predictor_68_face_landmarks.dat"))
    assert not list(bundle.rglob("translations/*.qm"))
    qt = internal / "PySide6" / "Qt"
    assert not (qt / "plugins" / "multimedia").exists()  # no media back-end: sounds need none
    for library in ("libQt6Quick.so*", "libQt6Qml.so*", "libavcodec.so*", "libavformat.so*"):
        assert not list(qt.glob(f"lib/{library}")) and not list(internal.glob(library)), library
    assert list(qt.glob("lib/libQt6Multimedia.so*"))  # QSoundEffect's own library stays
    assert not list(qt.glob("lib/libQt6EglFS*")) and not list(internal.glob("libQt6EglFS*"))
    for binding in ("QtDBus", "QtConcurrent"):  # their libraries stay: Multimedia links them
        assert not list(internal.glob(f"PySide6/{binding}.*")), binding
    assert not list(internal.glob("numpy/_core/_multiarray_tests*"))
    assert not [p for p in internal.rglob("*") if p.is_symlink() and not p.exists()]
    assert list(internal.glob("_dlib_pybind11*.so"))  # the public-domain pack's runtime
    sections = subprocess.run(
        ["readelf", "-S", str(internal / "libpython3.11.so.1.0")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".dynsym" in sections  # what the loader needs stays
    assert ".debug_info" not in sections and ".symtab" not in sections  # never loaded
    rust = subprocess.run(
        ["readelf", "-S", *map(str, internal.glob("cryptography/hazmat/bindings/_rust*.so"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".dynsym" in rust and ".symtab" not in rust


def test_the_bundle_opens_the_window_on_x11_with_its_sounds_ready(
    bundle: Path, kiosk_env: dict[str, str], tmp_path: Path
) -> None:
    """The xcb platform plugin loads from the bundle, and the check-in sounds find the
    speakers (a PulseAudio null sink) with no media back-end plugin in the bundle."""
    env = {k: v for k, v in kiosk_env.items() if k != "QT_QPA_PLATFORM"}
    env.update(FACE_MODEL="vectron", FACE_MODEL_DIR=str(vectron_dir()), QT_DEBUG_PLUGINS="0")
    command = ["xvfb-run", "-a", str(bundle / "sonta-kiosk"), "--windowed", "--offline"]
    with null_sink(tmp_path / "audio") as speakers:
        env.update({k: speakers.env[k] for k in ("PULSE_SERVER", "XDG_RUNTIME_DIR")})
        process = subprocess.Popen(
            [*command, "--source", str(FACES)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=20)  # still showing the window
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
    assert "sounds ready on" in output, output
    assert "FFmpeg" not in output, output
    assert "face model pack vectron loaded" in output, output
    assert "waiting for a meeting" in output, output


def test_the_public_domain_pack_imports_into_the_bundle_without_the_68_point_model(
    bundle: Path, kiosk_env: dict[str, str]
) -> None:
    """Its runtime ships in the bundle; its two model files are an optional import (from
    the face-recognition-models wheel, whose folder also holds the non-commercial
    68-point model, never copied)."""
    wheel_folder = package_dir(get_pack_spec("dlib"))
    assert wheel_folder is not None
    assert (wheel_folder / "shape_predictor_68_face_landmarks.dat").is_file()
    executable = str(bundle / "sonta-kiosk")
    imported = subprocess.run(
        [executable, "kiosk", "import-pack", "--pack", "dlib", str(wheel_folder)],
        env=kiosk_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    installed = Path(kiosk_env["FACE_MODEL_CACHE"]) / "dlib"
    assert sorted(p.name for p in installed.iterdir()) == [
        "dlib_face_recognition_resnet_model_v1.dat",
        "shape_predictor_5_face_landmarks.dat",
    ]
    result = self_test(bundle / "sonta-kiosk", kiosk_env, "--pack", "dlib")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dlib@" in result.stdout and "face(s) in the frame" in result.stdout


def needed_and_lacking(bundle: Path) -> set[str]:
    """The sonames the bundle's ELF files list as NEEDED and the bundle does not hold."""
    files = [p for p in bundle.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"]
    dynamic = subprocess.run(
        ["readelf", "-dW", *map(str, files)], capture_output=True, text=True, check=False
    ).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
    return needed - {p.name for p in bundle.rglob("*")}


def test_the_deb_depends_on_a_package_for_each_system_library_the_bundle_lacks(
    bundle: Path, debs: dict[str, Path]
) -> None:
    internal = bundle / "_internal"
    for copy in ("libglib-2.0.so.0", "libX11.so.6", "libgnutls.so.30", "libpulse.so.0"):
        assert not (internal / copy).exists(), copy  # left to Debian's packages
    assert (internal / "libpython3.11.so.1.0").is_file()
    field = subprocess.run(
        ["dpkg-deb", "--field", str(debs["0.1.0"]), "Depends"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    depends = {entry.split(" (")[0] for entry in field.strip().split(", ")}
    lacking = needed_and_lacking(bundle)
    assert {"libglib-2.0.so.0", "libX11.so.6", "libc.so.6"} <= lacking
    for soname in lacking:
        owners = subprocess.run(
            ["dpkg-query", "--search", f"*/{soname}"], capture_output=True, text=True, check=True
        ).stdout
        packages = {line.split(":")[0] for line in owners.splitlines()}
        assert packages & depends, (soname, packages)


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").touch()
    command = ["dpkg", f"--root={root}", "--force-depends", "--force-script-chrootless"]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=True)


def test_the_deb_installs_upgrades_and_purges_keeping_queued_checkins(
    debs: dict[str, Path], tmp_path: Path, kiosk_env: dict[str, str]
) -> None:
    info = subprocess.run(
        ["dpkg-deb", "--info", str(debs["0.1.0"])], capture_output=True, text=True, check=True
    ).stdout
    assert "Package: sonta-kiosk" in info and "Version: 0.1.0" in info and "postrm" in info
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(debs["0.1.0"])], capture_output=True, text=True, check=True
    ).stdout
    for path in (
        "./opt/sonta-kiosk/sonta-kiosk",
        "./opt/sonta-kiosk/share/sonta-kiosk-autostart.desktop",
        "./usr/share/applications/sonta-kiosk.desktop",
        "./usr/share/icons/hicolor/scalable/apps/sonta-kiosk.svg",
        "./usr/bin/sonta-kiosk -> /opt/sonta-kiosk/sonta-kiosk",
        "./usr/bin/sonta-kiosk-keyring -> /opt/sonta-kiosk/sonta-kiosk-keyring",
    ):
        assert path in contents, path
    assert "etc/xdg/autostart" not in contents  # off unless chosen
    root = tmp_path / "root"
    data = root / "home" / "kiosk" / ".local" / "share" / "sonta-kiosk"
    env = {**kiosk_env, "SONTA_KIOSK_DIR": str(data)}
    dpkg(root, "-i", str(debs["0.1.0"]))
    keys = kiosk_credentials(data, FolderKeyring(tmp_path / "keyring"))
    store = LocalStore(data / "kiosk.db", outbox_key=keys.outbox_key)
    store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    store.close()
    dpkg(root, "-i", str(debs["0.1.1"]))
    result = self_test(root / "opt/sonta-kiosk/sonta-kiosk", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 check-in(s) to upload" in result.stdout
    purged = dpkg(root, "--purge", "sonta-kiosk")
    assert not (root / "opt/sonta-kiosk").exists()
    assert f"kept the kiosk data in {data}" in purged.stderr
    store = LocalStore(data / "kiosk.db")
    assert store.queue_depth() == 1
    store.close()
