"""The Grafana dashboard: generated, well formed, every query valid PromQL on known metrics.

Grafana's dashboard linter (github.com/grafana/dashboard-linter) is not served by the Go module
proxy here, so its rules that apply to a Prometheus dashboard are checked below instead.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import yaml

from .deploy_tools import DASHBOARD, DEPLOY, ROOT, families, run, tool
from .metric_catalog import EXPORTED, PLANNED

UNITS = {"short", "percentunit", "s", "ops", "reqps", "bool_yes_no"}
# A metric selector with labels: name{...}
SELECTOR = re.compile(r"\b([a-z_:][a-z0-9_:]*)\{([^}]*)\}")
RANGE = re.compile(r"\[([^\]]+)\]")


def dashboard() -> dict[str, Any]:
    """The committed dashboard document."""
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    """Every panel that is not a row."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[tuple[str, str]]:
    """(panel title, expression) for every query of the dashboard."""
    return [(p["title"], t["expr"]) for p in panels() for t in p["targets"]]


def test_the_committed_json_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("dashboard", DEPLOY / "grafana" / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text() == module.render(), "run python deploy/grafana/dashboard.py"


def test_the_dashboard_has_the_panels_operators_asked_for() -> None:
    read = set().union(*(families(e) for _, e in exprs()))
    assert {
        "followup_kpi_ratio",
        "followup_kpi_target_ratio",
        "followup_visits",
        "followup_issues_open_age_seconds",
        "followup_issue_sla_warnings",
        "followup_issue_sla_breaches",
        "followup_consumer_lag",
        "followup_dead_letters",
        "followup_outbox_oldest_age_seconds",
        "followup_notifications",
        "http_request_duration_seconds",
    } <= read
    assert read <= set(EXPORTED) | set(PLANNED), read - set(EXPORTED) - set(PLANNED)


def test_every_exported_family_is_registered_by_the_named_package() -> None:
    for name, package in EXPORTED.items():
        if package is not None:
            sources = (ROOT / package / "src").rglob("*.py")
            assert any(f'"{name}"' in p.read_text() for p in sources), f"{name} not in {package}"


def test_data_source_job_and_instance_are_variables_every_panel_uses() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        assert variables[name]["multi"] and variables[name]["includeAll"]
    for panel in panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_selector_filters_on_job_and_instance_and_rates_use_the_rate_interval() -> None:
    for title, expr in exprs():
        selectors = SELECTOR.findall(expr)
        assert selectors, f"{title}: {expr}"
        for _, labels in selectors:
            assert 'job=~"$job"' in labels and 'instance=~"$instance"' in labels, (title, expr)
        for window in RANGE.findall(expr):
            assert window == "$__rate_interval", (title, expr)


def test_every_panel_has_a_title_a_description_a_unit_and_a_legend() -> None:
    for panel in panels():
        assert panel["title"] and panel["description"], panel
        assert panel["fieldConfig"]["defaults"]["unit"] in UNITS, panel["title"]
        for t in panel["targets"]:
            assert t["legendFormat"], panel["title"]


def test_panel_ids_are_unique_and_no_two_panels_overlap() -> None:
    all_panels = dashboard()["panels"]
    assert len({p["id"] for p in all_panels}) == len(all_panels)
    cells: set[tuple[int, int]] = set()
    for p in all_panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses expressions in rule files: one recording rule per query, variables filled.
    def concrete(expr: str) -> str:
        return (
            expr.replace("$__rate_interval", "1m").replace("$job", ".+").replace("$instance", ".+")
        )

    rules = [
        {"record": f"dashboard:query_{i}", "expr": concrete(e)} for i, (_, e) in enumerate(exprs())
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = run([*tool("promtool"), "check", "rules", str(path)])
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rules)} rules found" in out.stdout


def test_grafana_provisioning_points_at_the_dashboards_and_the_compose_prometheus() -> None:
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert ds["datasources"][0]["type"] == "prometheus"
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    boards = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/followup.yml").read_text())
    path = boards["providers"][0]["options"]["path"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
