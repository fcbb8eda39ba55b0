"""Swagger UI and ReDoc load every script and stylesheet from the service itself."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from followup.core.http import create_app

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _asyncapi() -> dict[str, Any]:
    return {}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_references_only_assets_the_app_serves(page: str) -> None:
    app = create_app("docs", registry=CollectorRegistry(), ready_checks={}, asyncapi=_asyncapi)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        html = (await client.get(page)).raise_for_status().text
        urls = [a or b for a, b in ASSET.findall(html)]
        assets = [u for u in urls if u.endswith((".js", ".css"))]
        assert len(assets) >= 1, html
        assert "https://" not in html and "http://" not in html, "a URL outside the app"
        for url in assets:
            answer = await client.get(url)
            assert answer.status_code == 200, url
            assert len(answer.content) > 10_000, url
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "followup docs"
