"""A container engine for the image tests: Docker where one runs, else podman.

Podman runs with a configuration of its own (CONTAINERS_CONF and CONTAINERS_STORAGE_CONF
pointing into the cache folder), never the machine's: what this kind of host needs is
set there, and its image store doubles as the build cache between runs.
- hybrid cgroups (v1 controllers): `runc` and `cgroupfs`, not crun and systemd;
- the default ulimits cannot be raised: nofile=20000 and nproc=32768 are within reach;
- images are built `--format docker`, since the OCI format drops HEALTHCHECK.
The cache folder is ${XDG_CACHE_HOME:-~/.cache}/sonta-container (SONTA_CONTAINER_CACHE).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
tmp_dir = "{run}/libpod"

[network]
network_backend = "netavark"
network_config_dir = "{cache}/networks"
"""

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{cache}/storage"
runroot = "{run}/storage"
"""


def cache_dir() -> Path:
    configured = os.environ.get("SONTA_CONTAINER_CACHE", "").strip()
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "sonta-container"


def docker_works() -> bool:
    """A Docker engine answers (a client without a daemon does not count)."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=60)
    return probe.returncode == 0


@dataclass
class Engine:
    """One container CLI (docker or podman) and the environment it runs with."""

    program: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cache: Path = field(default_factory=cache_dir)

    @classmethod
    def detect(cls) -> Engine:
        if docker_works():
            return cls("docker")
        if shutil.which("podman") is None:
            raise RuntimeError("neither a Docker engine nor podman: run ./test.sh to install it")
        engine = cls("podman")
        engine.configure_podman()
        return engine

    @property
    def is_podman(self) -> bool:
        return self.program == "podman"

    def configure_podman(self) -> None:
        run = Path("/run/sonta-container") if os.access("/run", os.W_OK) else self.cache / "run"
        self.cache.mkdir(parents=True, exist_ok=True)
        conf = self.cache / "containers.conf"
        conf.write_text(CONTAINERS_CONF.format(cache=self.cache, run=run))
        storage = self.cache / "storage.conf"
        storage.write_text(STORAGE_CONF.format(cache=self.cache, run=run))
        self.env.update(CONTAINERS_CONF=str(conf), CONTAINERS_STORAGE_CONF=str(storage))

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.program, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{self.program} {' '.join(args[:3])} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def has_image(self, name: str) -> bool:
        return self("image", "inspect", name, check=False).returncode == 0

    def pull(self, name: str, timeout: float = 300) -> bool:
        """Whether ``name`` could be pulled (False at once when no registry answers)."""
        try:
            return self("pull", name, timeout=timeout, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def wait_exit(self, container: str, timeout: float) -> int:
        """The container's exit code once it has stopped by itself."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
            if state in ("exited", "stopped"):
                code = self("inspect", "--format", "{{.State.ExitCode}}", container).stdout
                return int(code.strip())
            time.sleep(1)
        raise AssertionError(f"{container} still runs after {timeout} s:\n{self.logs(container)}")

    def logs(self, container: str) -> str:
        result = self("logs", container, check=False)
        return result.stdout + result.stderr
