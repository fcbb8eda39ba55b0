"""The four services under `make up`'s Prometheus: every job is scraped, every alert rule
evaluates healthy, and every dashboard query on a family the services export returns series.

Families other issues add (tests/deploy/metric_catalog.py PLANNED) join as they land.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import socket
import subprocess
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from followup.events import topics

from ..deploy.deploy_tools import PROMETHEUS_DIR, ROOT, families
from ..deploy.metric_catalog import EXPORTED
from ..deploy.test_dashboard import exprs
from .conftest import poll
from .test_walking_skeleton import delivery_event, send

SERVICES = ("scheduling", "visits", "issues", "analytics")
# Families with a sample only once something happened (a breach, an open issue in the ledger,
# a notification sent: this short run raises none).
NO_SAMPLE_YET = {
    "followup_issue_sla_breaches",
    "followup_issues_open",
    "followup_notifications",
    "followup_notification_delivery_seconds",
}
pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def query(port: int, promql: str) -> list[Any]:
    """An instant query's result; fails on any evaluation error."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", (promql, body)
    result: list[Any] = body["data"]["result"]
    return result


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/{path}", timeout=10) as resp:
        return json.load(resp)["data"]


def concrete(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in."""
    expr = expr.replace("$__rate_interval", "1m")
    return expr.replace("$job", ".+").replace("$instance", ".+")


async def test_prometheus_scrapes_the_services_and_answers_the_dashboard_and_the_alerts(
    start_service: Any, producer: Any, tmp_path: Path
) -> None:
    running = {name: await start_service(name) for name in SERVICES}
    customer = f"C-OBS-{uuid.uuid4().hex[:8]}"
    await send(
        producer,
        customer,
        json.dumps(delivery_event(customer, "2026-11-02T10:00:00+08:00")).encode(),
    )
    await send(producer, customer, b"not a cloud event " + customer.encode())  # a dead letter

    port = free_port()
    env = {
        **os.environ,
        "FOLLOWUP_HOME": str(tmp_path / "prometheus-home"),
        "FOLLOWUP_PROMETHEUS_PORT": str(port),
        "FOLLOWUP_SCRAPE_INTERVAL": "1s",
        **{f"FOLLOWUP_{n.upper()}_PORT": s.url.rsplit(":", 1)[1] for n, s in running.items()},
    }
    script = str(ROOT / "infra" / "prometheus.sh")
    try:
        for step in ("start", "wait-ready"):
            out = await asyncio.to_thread(
                subprocess.run, [script, step], env=env, capture_output=True, text=True
            )
            assert out.returncode == 0, out.stderr

        async def all_up() -> bool:
            return {r["metric"]["job"] for r in query(port, "up == 1")} == set(SERVICES)

        await poll(all_up, within=60)

        async def rules_healthy() -> dict[str, str] | None:
            rules = {
                r["name"]: r["health"] for g in api(port, "rules")["groups"] for r in g["rules"]
            }
            return rules if set(rules.values()) == {"ok"} else None

        loaded = await poll(rules_healthy, within=60)
        alerts = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
        for rule in (r for g in alerts["groups"] for r in g["rules"]):
            assert rule["alert"] in loaded  # type: ignore[operator]
            query(port, rule["expr"])  # evaluates without error
        firing = {a["labels"]["alertname"] for a in api(port, "alerts")["alerts"]}
        assert "FollowupServiceDown" not in firing

        answered = 0
        for _title, expr in exprs():
            read = families(expr)
            if not read or not read <= set(EXPORTED):
                continue
            if read & NO_SAMPLE_YET:
                query(port, concrete(expr))
                continue

            async def has_series(e: str = expr) -> bool:
                return bool(query(port, concrete(e)))

            try:
                await poll(has_series, within=60)
            except BaseException:
                print(f"no series for the panel query: {expr}")
                raise
            answered += 1
        assert answered >= 7, answered
        # Every consumer of followup.customers dead-letters the message that is no CloudEvent.
        readers = {n for n in SERVICES if topics.CUSTOMERS in _consumes(n)}

        async def all_dead_lettered() -> bool:
            dead = query(port, "sum by (job) (followup_dead_letters_total)")
            return {r["metric"]["job"] for r in dead} == readers

        await poll(all_dead_lettered, within=60)
    finally:
        await asyncio.to_thread(subprocess.run, [script, "stop"], env=env, capture_output=True)


def _consumes(service: str) -> list[str]:
    return list(importlib.import_module(f"followup.{service}.subscriptions").CONSUMES)
