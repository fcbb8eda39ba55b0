"""Every /v1 operation of the four services declares the bearer scheme and its problem answers."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

SERVICES = ("visits", "issues", "scheduling", "analytics")
PROBLEM_STATUSES = ("401", "403", "404", "409", "422")


def _openapi(service: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("FOLLOWUP_ENV", "development")
    monkeypatch.delenv("FOLLOWUP_NOTIFY_FILE", raising=False)
    main = importlib.import_module(f"followup.{service}.main")
    schema: dict[str, Any] = main.build_app().openapi()
    return schema


@pytest.mark.parametrize("service", SERVICES)
def test_every_v1_operation_requires_the_bearer_scheme_and_documents_problem_answers(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = _openapi(service, monkeypatch)
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A configured token",
    }
    operations = [
        (method, path, op)
        for path, ops in schema["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    ]
    assert operations, f"{service} has no /v1 operation"
    for method, path, op in operations:
        where = f"{service} {method.upper()} {path}"
        assert {"bearer": []} in op.get("security", []), where
        for status in PROBLEM_STATUSES:
            content = op["responses"].get(status, {}).get("content", {})
            assert list(content) == ["application/problem+json"], f"{where} {status}"
            problem = content["application/problem+json"]["schema"]
            assert {"type", "title", "status", "detail"} <= set(problem["properties"]), where


def test_operational_routes_stay_open_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = _openapi("visits", monkeypatch)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "security" not in schema["paths"][path]["get"], path
