"""Writes deploy/grafana/dashboards/followup.json, the operations dashboard.

Run `python deploy/grafana/dashboard.py` after editing a panel; tests/deploy checks the committed
JSON is what this script writes, so the two never drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "dashboards" / "followup.json"
# Every selector filters on the dashboard's job and instance variables.
SEL = 'job=~"$job", instance=~"$instance"'
DS = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24


def target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    """One PromQL query of a panel."""
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(
    title: str,
    description: str,
    exprs: list[tuple[str, str]],
    unit: str,
    kind: str = "timeseries",
    width: int = 12,
) -> dict[str, Any]:
    """A panel without id and position (layout() gives them)."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom"}}
        if kind == "timeseries"
        else {},
        "targets": [target(e, legend, chr(ord("A") + i)) for i, (e, legend) in enumerate(exprs)],
        "_width": width,
    }


def row(title: str) -> dict[str, Any]:
    """A row header (full width)."""
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_width": WIDTH}


def rate(metric: str, extra: str = "") -> str:
    """A per-second rate over Grafana's rate interval, filtered on job and instance."""
    labels = f"{SEL}, {extra}" if extra else SEL
    return f"rate({metric}{{{labels}}}[$__rate_interval])"


def increase(metric: str, extra: str = "") -> str:
    """The increase over Grafana's rate interval, filtered on job and instance."""
    labels = f"{SEL}, {extra}" if extra else SEL
    return f"increase({metric}{{{labels}}}[$__rate_interval])"


def panels() -> list[dict[str, Any]]:
    """Every row and panel, in reading order."""
    return [
        row("Service levels"),
        panel(
            "KPIs against targets (30 days)",
            "Rolling 30-day KPI ratios (analytics) and each KPI's target from the active policy.",
            [
                (f'min by (kpi) (followup_kpi_ratio{{{SEL}, window="30d"}})', "{{kpi}}"),
                (f"max by (kpi) (followup_kpi_target_ratio{{{SEL}}})", "{{kpi}} target"),
            ],
            "percentunit",
        ),
        panel(
            "KPI gap to target",
            "30-day KPI minus its target; below 0 misses the target (compared unrounded).",
            [
                (
                    f'min by (kpi) (followup_kpi_ratio{{{SEL}, window="30d"}})'
                    f" - on (kpi) max by (kpi) (followup_kpi_target_ratio{{{SEL}}})",
                    "{{kpi}}",
                )
            ],
            "percentunit",
            kind="bargauge",
        ),
        panel(
            "Visits: due, overdue, unassigned",
            "Open visits by state, read from analytics' aggregates.",
            [
                (
                    f'sum by (state) (followup_visits{{{SEL}, state=~"due|overdue|unassigned"}})',
                    "{{state}}",
                )
            ],
            "short",
        ),
        panel(
            "Open issues by age",
            "Open issues whose age is at most each bound (cumulative buckets).",
            [(f"sum by (le) (followup_issues_open_age_seconds_bucket{{{SEL}}})", "<= {{le}} s")],
            "short",
            kind="bargauge",
        ),
        panel(
            "Open issues by department",
            "Open issues per department and state.",
            [
                (
                    f"sum by (department, state) (followup_issues_open{{{SEL}}})",
                    "{{department}} {{state}}",
                )
            ],
            "short",
        ),
        panel(
            "SLA warnings and breaches",
            "Warnings before a deadline and breaches after it, per clock.",
            [
                (f"sum({increase('followup_issue_sla_warnings_total')})", "warnings"),
                (
                    f"sum by (clock) ({increase('followup_issue_sla_breaches_total')})",
                    "{{clock}} breaches",
                ),
            ],
            "short",
        ),
        panel(
            "Notification failures",
            "Webhook and e-mail deliveries that did not succeed, per channel and outcome.",
            [
                (
                    "sum by (channel, outcome) ("
                    + increase("followup_notifications_total", 'outcome!="delivered"')
                    + ")",
                    "{{channel}} {{outcome}}",
                )
            ],
            "short",
        ),
        panel(
            "Next year's calendar official",
            "1 when next year's official calendar is loaded for the region, 0 while provisional.",
            [(f"min by (region) (followup_calendar_next_year_official{{{SEL}}})", "{{region}}")],
            "bool_yes_no",
            kind="stat",
        ),
        row("Event pipeline"),
        panel(
            "Consumer lag per partition",
            "End offset minus the offset committed with the effect, per consumer and partition.",
            [
                (
                    f"max by (consumer, topic, partition) (followup_consumer_lag{{{SEL}}})",
                    "{{consumer}} {{topic}}[{{partition}}]",
                )
            ],
            "short",
        ),
        panel(
            "Dead letters",
            "Messages a consumer could not accept, by reason (see `followup dead-letters`).",
            [
                (
                    f"sum by (consumer, reason) ({increase('followup_dead_letters_total')})",
                    "{{consumer}} {{reason}}",
                )
            ],
            "short",
        ),
        panel(
            "Outbox: oldest unpublished row",
            "Age of each service's oldest outbox row not yet on Kafka.",
            [(f"max by (job) (followup_outbox_oldest_age_seconds{{{SEL}}})", "{{job}}")],
            "s",
        ),
        panel(
            "Outbox: pending rows",
            "Outbox rows not yet published, per service.",
            [(f"sum by (job) (followup_outbox_pending_rows{{{SEL}}})", "{{job}}")],
            "short",
        ),
        panel(
            "Events consumed",
            "Events consumed per second, by consumer and outcome.",
            [
                (
                    f"sum by (consumer, outcome) ({rate('followup_events_consumed_total')})",
                    "{{consumer}} {{outcome}}",
                )
            ],
            "ops",
        ),
        panel(
            "Processing latency p99",
            "From the message's Kafka timestamp to the commit of its effect.",
            [
                (
                    "histogram_quantile(0.99, sum by (le, consumer) ("
                    + rate("followup_processing_latency_seconds_bucket")
                    + "))",
                    "{{consumer}}",
                )
            ],
            "s",
        ),
        row("HTTP"),
        panel(
            "HTTP latency p50 and p99",
            "Request duration per service.",
            [
                (
                    f"histogram_quantile({q}, sum by (le, job) ("
                    + rate("http_request_duration_seconds_bucket")
                    + "))",
                    f"{{{{job}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.99)
            ],
            "s",
        ),
        panel(
            "HTTP requests by status",
            "Requests per second per service and status class.",
            [(f"sum by (job, status) ({rate('http_requests_total')})", "{{job}} {{status}}")],
            "reqps",
        ),
        panel(
            "Scrape targets up",
            "1 when Prometheus scrapes the service, 0 when it does not answer.",
            [(f"up{{{SEL}}}", "{{job}} {{instance}}")],
            "short",
            kind="stat",
            width=24,
        ),
    ]


def layout(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gives each panel an id and a grid position, filling rows left to right."""
    x = y = 0
    out = []
    for i, item in enumerate(items, start=1):
        w = item.pop("_width")
        if item["type"] == "row" or x + w > WIDTH:
            y, x = (y + 8 if x else y), 0
        h = 1 if item["type"] == "row" else 8
        out.append({"id": i, "gridPos": {"h": h, "w": w, "x": x, "y": y}, **item})
        if item["type"] == "row":
            y += 1
        else:
            x += w
    return out


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value query variable (all selected by default)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard() -> dict[str, Any]:
    """The whole dashboard document."""
    return {
        "uid": "followup-ops",
        "title": "followup: operations",
        "description": "KPIs against targets, open work, SLA, the event pipeline and HTTP.",
        "tags": ["followup"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {"selected": True, "text": "Prometheus", "value": "prometheus"},
                },
                variable("job", "Service", "label_values(up, job)"),
                variable("instance", "Instance", 'label_values(up{job=~"$job"}, instance)'),
            ]
        },
        "panels": layout(panels()),
    }


def render() -> str:
    """The dashboard as the committed JSON text."""
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    sys.stdout.write(f"wrote {OUT}\n")
