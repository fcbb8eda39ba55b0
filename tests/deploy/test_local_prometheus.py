"""`make up`'s Prometheus (infra/prometheus.sh) scrapes a service and loads every alert rule.

The scraped target serves the core's real metrics registry, so the dashboard's queries on the
families exported today are evaluated by a real Prometheus against real exposition text.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import start_http_server

from followup.core.metrics import Metrics
from followup.core.notify.metrics import NotifyMetrics

from .deploy_tools import PROMETHEUS_DIR, ROOT, families
from .metric_catalog import EXPORTED
from .test_dashboard import exprs

SCRIPT = ROOT / "infra" / "prometheus.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    metrics = Metrics()
    metrics.consumer_lag.labels("visits", "followup.scheduling", "0").set(7)
    metrics.dead_letters.labels("visits", "invalid_data").inc()
    metrics.outbox_oldest_age.set(1.5)
    metrics.events_consumed.labels("visits", "ok").inc(3)
    NotifyMetrics(metrics.registry).outcome("webhook", "retried")
    server, _ = start_http_server(free_port(), addr="127.0.0.1", registry=metrics.registry)
    port = free_port()
    home: Path = tmp_path_factory.mktemp("prometheus-home")
    env = {
        **os.environ,
        "FOLLOWUP_HOME": str(home),
        "FOLLOWUP_PROMETHEUS_PORT": str(port),
        "FOLLOWUP_SERVICES": "visits",
        "FOLLOWUP_VISITS_PORT": str(server.server_port),
        "FOLLOWUP_SCRAPE_INTERVAL": "1s",
    }
    try:
        for step in ("start", "wait-ready"):
            out = subprocess.run([str(SCRIPT), step], env=env, capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
        # Bounded wait for three scrapes, so increase() and rate() have points (an attempt
        # count, not a timing assertion).
        for _ in range(120):
            if api(port, "query", query='count_over_time(up{job="visits"}[1m]) >= 3')["result"]:
                break
            time.sleep(0.5)
        yield port
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, check=False)
        server.shutdown()


def test_it_scrapes_the_service_under_its_job_name(prometheus: int) -> None:
    result = api(prometheus, "query", query='up{job="visits"}')["result"]
    assert [r["value"][1] for r in result] == ["1"]


def test_it_loads_every_alert_rule_healthy(prometheus: int) -> None:
    loaded = {
        r["name"]: r["health"] for g in api(prometheus, "rules")["groups"] for r in g["rules"]
    }
    doc = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    wanted = {r["alert"] for g in doc["groups"] for r in g["rules"]}
    assert set(loaded) == wanted
    assert all(h in {"ok", "unknown"} for h in loaded.values()), loaded


def test_the_dashboard_queries_on_exported_families_return_series(prometheus: int) -> None:
    # The core families the fake service sets; other services' families have no sample here.
    core = {n for n, src in EXPORTED.items() if src and "core" in src and "latency" not in n}
    asked = 0
    for title, expr in exprs():
        if families(expr) and families(expr) <= core:
            query = expr.replace("$__rate_interval", "1m")
            query = query.replace("$job", ".+").replace("$instance", ".+")
            assert api(prometheus, "query", query=query)["result"], f"{title}: {query}"
            asked += 1
    assert asked >= 4


def test_status_shows_it_and_stop_ends_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FOLLOWUP_HOME": str(tmp_path),
        "FOLLOWUP_PROMETHEUS_PORT": str(free_port()),
    }

    def script(step: str) -> str:
        out = subprocess.run([str(SCRIPT), step], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout

    script("start")
    pid = int((tmp_path / "run" / "prometheus.pid").read_text())
    script("wait-ready")
    assert script("status").startswith(f"prometheus  running  pid {pid}")
    script("stop")
    assert script("status").startswith("prometheus  stopped")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
