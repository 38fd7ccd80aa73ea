"""The GitHub Actions workflow: every push and pull request runs the README's test
command; a version tag publishes the image the container tests build and the kiosk's
.deb. actionlint (with shellcheck on each step's script) checks it as GitHub would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.container.test_image import PACK

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ON_TAG = "startsWith(github.ref, 'refs/tags/v')"


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_pushes_and_pull_requests_run_the_test_command() -> None:
    flow = workflow()
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"push", "pull_request"}
    assert triggers["push"]["tags"] == ["v*"]
    test = flow["jobs"]["test"]
    assert "if" not in test
    assert runs(test).strip() == "./test.sh"
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec ./test.sh")


def test_a_version_tag_publishes_the_image_and_the_kiosk_package() -> None:
    jobs = workflow()["jobs"]
    image, deb = jobs["image"], jobs["kiosk-deb"]
    for job in (image, deb):
        assert job["if"] == ON_TAG and job["needs"] == "test"
    assert image["permissions"]["packages"] == "write"
    build = runs(image)
    # The image's one build command, which tests/container/test_image.py builds with too,
    # for the pack it builds: that tag is published exactly as tested.
    assert "docker/build-image --build-arg FACE_MODEL=buffalo_l" in build
    assert f"docker/build-image --build-arg FACE_MODEL={PACK} \\\n" in build
    assert f'-t "${{image}}:${{VERSION#v}}-{PACK}" -t "${{image}}:{PACK}"' in build
    assert "docker build" not in build
    image_test = (ROOT / "tests" / "container" / "test_image.py").read_text()
    assert 'BUILD_IMAGE = ROOT / "docker" / "build-image"' in image_test
    assert '"build",' not in image_test  # no second build command beside it
    assert '"${image}:${VERSION#v}"' in build and 'docker push --all-tags "${image}"' in build
    assert 'image="ghcr.io/${GITHUB_REPOSITORY,,}"' in build
    packaging = runs(deb)
    assert "packaging/build.sh all" in packaging
    assert 'gh release upload "${VERSION}" dist/sonta-kiosk_*.deb' in packaging
    assert (ROOT / "packaging" / "build.sh").exists()


def test_only_the_tag_jobs_may_write() -> None:
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    assert "permissions" not in flow["jobs"]["test"]


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [
            str(VENV_BIN / "actionlint"),
            "-no-color",
            "-shellcheck",
            str(VENV_BIN / "shellcheck"),
            str(path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_actionlint_passes() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check can fail: a copy with a job that needs a job that does not exist, an
    expression of an unknown context, and a quoting mistake shellcheck finds."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    broken = WORKFLOW.read_text()
    broken = broken.replace("needs: test\n", "needs: tests\n", 1)
    broken = broken.replace("${{ github.ref_name }}", "${{ githb.ref_name }}", 1)
    broken = broken.replace('docker push --all-tags "${image}"', "docker push --all-tags ${image}")
    assert broken.count("tests\n") and "githb" in broken and "--all-tags ${image}" in broken
    (folder / "ci.yml").write_text(broken)
    result = actionlint(folder / "ci.yml")
    assert result.returncode == 1, result.stdout + result.stderr
    for finding in (
        'needs job "tests" which does not exist',
        'undefined variable "githb"',
        "SC2086",
    ):
        assert finding in result.stdout, result.stdout
