"""deploy/prometheus and deploy/grafana: the alert rules and scrape job pass promtool, the
rules' own unit tests fire and stay quiet as they should, and every metric the rules and
the dashboard name is one a real /metrics answer exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.backend.core.config import Settings
from server.backend.tasks.backups.tasks import create_backup
from tests.server.conftest import ClientFactory
from tests.server.core.test_metrics import TOKEN
from tests.server.utils import bearer

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "sonta-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: ./test.sh installs it (Debian's prometheus package)"
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    checked = promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml", cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_scrape_job_passes_promtool(tmp_path: Path) -> None:
    for path in (DEPLOY / "prometheus").iterdir():
        shutil.copy(path, tmp_path)
    (tmp_path / "sonta-metrics-token").write_text(TOKEN)
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _metric_names(expression: str) -> set[str]:
    """The sonta_ metric names a PromQL expression reads (suffixes of histograms and
    counters included)."""
    return set(re.findall(r"\bsonta_[a-z_]+\b", expression))


@pytest.fixture
def exposed(make_client: ClientFactory, embedded_settings: Settings) -> set[str]:
    """Every name a real /metrics answer carries, after a backup (whose gauge is only
    there when an archive is)."""
    settings = embedded_settings.model_copy(update={"metrics_token": TOKEN})
    client: TestClient = make_client(settings)
    create_backup(settings)
    client.get("/health/live")
    answer = client.get("/metrics", headers=bearer(TOKEN))
    assert answer.status_code == 200
    # Families are announced (HELP and TYPE) even before their first sample.
    names = set()
    for family in text_string_to_metric_families(answer.text):
        names |= {family.name, *(sample.name for sample in family.samples)}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ())}
    return names


def test_every_metric_the_rules_and_the_dashboard_read_is_exposed(exposed: set[str]) -> None:
    expressions = re.findall(r"expr: >-\n((?:\s{10}.+\n)+)|expr: (.+)", RULES.read_text())
    rule_text = " ".join(a or b for a, b in expressions)
    dashboard = json.loads(DASHBOARD.read_text())
    panel_text = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    read = _metric_names(rule_text) | _metric_names(panel_text)
    assert read, "no metric names found"
    assert read <= exposed, sorted(read - exposed)
    assert dashboard["uid"] == "sonta-attendance" and len(dashboard["panels"]) >= 8
