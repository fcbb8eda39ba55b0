"""The alert rules and Prometheus configs pass promtool, and each alert fires when it should."""

from __future__ import annotations

from pathlib import Path

import yaml

from .deploy_tools import PROMETHEUS_DIR, families, run, tool
from .metric_catalog import EXPORTED, PLANNED

ALERTS = PROMETHEUS_DIR / "alerts.yml"


def rules() -> list[dict[str, str]]:
    """Every rule of alerts.yml."""
    doc = yaml.safe_load(ALERTS.read_text())
    return [r for group in doc["groups"] for r in group["rules"]]


def test_promtool_accepts_the_alert_rules() -> None:
    out = run([*tool("promtool"), "check", "rules", str(ALERTS)])
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rules())} rules found" in out.stdout


def test_every_alert_fires_on_its_unit_test_series_and_not_before() -> None:
    out = run([*tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS_DIR)
    assert out.returncode == 0, out.stdout + out.stderr
    tested = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tested["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == {r["alert"] for r in rules()}


def test_the_issue_asks_for_these_alerts() -> None:
    read = set().union(*(families(r["expr"]) for r in rules()))
    assert {
        "followup_consumer_lag",
        "followup_dead_letters",
        "followup_outbox_oldest_age_seconds",
        "followup_issue_sla_breaches",
        "followup_kpi_ratio",
        "followup_calendar_next_year_official",
    } <= read
    assert read <= set(EXPORTED) | set(PLANNED), read - set(EXPORTED) - set(PLANNED)


def test_every_rule_has_a_severity_and_a_summary() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_promtool_accepts_the_compose_prometheus_config(tmp_path: Path) -> None:
    # The compose file mounts alerts.yml at /etc/prometheus; point the copy at the real file.
    text = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/alerts.yml", str(ALERTS)))
    out = run([*tool("promtool"), "check", "config", str(config)])
    assert out.returncode == 0, out.stdout + out.stderr
    jobs = {j["job_name"] for j in yaml.safe_load(text)["scrape_configs"]}
    assert {"scheduling", "visits", "issues", "analytics"} <= jobs
