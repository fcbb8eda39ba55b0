"""HTTP requests are counted and timed per route template under the instrumentator's names."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from followup.core.http import create_app


def _app() -> Any:
    router = APIRouter(prefix="/v1")

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        """One thing."""
        return {"id": thing_id}

    registry = CollectorRegistry()
    Counter("followup_things_seen", "A service's own counter", registry=registry).inc()
    return create_app(
        "metrics", registry=registry, ready_checks={}, asyncapi=dict, routers=[router]
    )


async def test_a_scrape_after_requests_shows_them_by_route_template_without_created_series() -> (
    None
):
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for thing_id in ("a-1", "b-2", "c-3"):
            assert (await client.get(f"/v1/things/{thing_id}")).status_code == 200
        text = (await client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {n for n in families if n.startswith("http_")} == {
        "http_requests",
        "http_request_duration_seconds",
    }
    totals = {
        (s.labels["handler"], s.labels["method"], s.labels["status"]): s.value
        for s in families["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert totals == {("/v1/things/{thing_id}", "GET", "2xx"): 3.0}
    counts = [
        s for s in families["http_request_duration_seconds"].samples if s.name.endswith("_count")
    ]
    assert [(s.labels["handler"], s.value) for s in counts] == [("/v1/things/{thing_id}", 3.0)]
    samples = [s.name for f in families.values() for s in f.samples]
    assert "followup_things_seen_total" in samples
    assert not [n for n in samples if n.endswith("_created")]
