"""The mounted-volume check behind production's embedded database: parsed from real
mountinfo text, and proven with a real bind mount in a private mount namespace."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from server.backend.core.volumes import mount_of, mounts, on_mounted_volume
from tests.face_service.conftest import clean_env, free_port

SONTA = Path(sys.executable).with_name("sonta")

# Lines as a container shows them: an overlay root, a named volume, a tmpfs, and a
# mount point with a space (written \040).
MOUNTINFO = """\
600 550 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a,upperdir=/b
601 600 0:55 / /proc rw,nosuid - proc proc rw
610 600 254:1 /volumes/sonta-data/_data /data rw,relatime - ext4 /dev/vda1 rw
611 600 0:60 / /tmp rw,nosuid - tmpfs tmpfs rw,size=65536k
612 600 254:1 /srv/x /mnt/my\\040volume rw,relatime - xfs /dev/vdb rw
"""


def test_mountinfo_lines_give_mount_points_and_types() -> None:
    assert (Path("/data"), "ext4") in mounts(MOUNTINFO)
    assert (Path("/mnt/my volume"), "xfs") in mounts(MOUNTINFO)
    assert mounts("not a mountinfo line\n") == []


def test_a_directory_belongs_to_the_deepest_mount_above_it() -> None:
    assert mount_of(Path("/data/sonta"), MOUNTINFO) == (Path("/data"), "ext4")
    assert mount_of(Path("/data"), MOUNTINFO) == (Path("/data"), "ext4")
    assert mount_of(Path("/database"), MOUNTINFO) == (Path("/"), "overlay")
    assert mount_of(Path("/home/sonta/.local/share/sonta"), MOUNTINFO)[0] == Path("/")
    assert mount_of(Path("/tmp/sonta"), MOUNTINFO) == (Path("/tmp"), "tmpfs")
    assert mount_of(Path("/mnt/my volume/db"), MOUNTINFO)[1] == "xfs"


def test_the_root_file_system_is_not_a_volume() -> None:
    assert not on_mounted_volume(Path("/"))
    assert not on_mounted_volume(Path("/srv/sonta-not-a-volume"))


def _production_check(data_dir: Path, *, mount: Path | None) -> subprocess.CompletedProcess[str]:
    """`sonta server --check` in production on the embedded database, in a mount
    namespace of its own where ``mount`` (if given) is bind-mounted at ``data_dir``."""
    env = clean_env(
        APP_ENV="production",
        ALLOW_EMBEDDED_DATABASE="true",
        SONTA_DATA_DIR=str(data_dir),
        JWT_ACCESS_SECRET=secrets.token_hex(32),
        JWT_REFRESH_SECRET=secrets.token_hex(32),
        QR_SECRET=secrets.token_hex(32),
        EMBEDDING_ENCRYPTION_KEY=secrets.token_hex(16),
        FRONTEND_URL="https://attendance.example.org",
        PUBLIC_URL="https://attendance.example.org",
    )
    check = f"{SONTA} server --check --host 127.0.0.1 --port {free_port()}"
    script = f"mount --bind {mount} {data_dir} && exec {check}" if mount else f"exec {check}"
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_keeps_the_embedded_database_only_on_a_mounted_volume(
    tmp_path: Path,
) -> None:
    data_dir, volume = tmp_path / "data", tmp_path / "volume"
    data_dir.mkdir()
    volume.mkdir()
    refused = _production_check(data_dir, mount=None)
    assert refused.returncode == 2, refused.stderr
    assert f"SONTA_DATA_DIR ({data_dir}) is not on a mounted volume" in refused.stderr
    mounted = _production_check(data_dir, mount=volume)
    assert mounted.returncode == 0, mounted.stderr
    assert mounted.stderr == ""
