"""The GitHub Actions workflow: every push and pull request runs the README's test
command; a version tag publishes the image the container tests build and the kiosk's
.deb. (Structure only: actionlint itself could not be installed here, see the README.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
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
    # The repository's Dockerfile from its root, as tests/container/test_image.py builds it.
    assert "docker build --build-arg FACE_MODEL=buffalo_l" in build and build.count(" .\n") == 1
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
