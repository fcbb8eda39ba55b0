"""The KPI table against targets, from the analytics `GET /v1/kpis` document."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} h"


def kpi_rows(document: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(KPI, count, value, target, verdict) for every KPI of the document's first group."""
    groups = document.get("groups") or []
    if not groups:
        return []
    rows: list[tuple[str, str, str, str, str]] = []
    for name, kpi in groups[0].items():
        if not isinstance(kpi, dict):
            continue
        if "denominator" in kpi:
            met = kpi.get("met")
            verdict = "" if met is None else ("met" if met else "MISSED")
            count = f"{kpi['numerator']:,} / {kpi['denominator']:,}"
            rows.append((name, count, _pct(kpi["value"]), _pct(kpi.get("target")), verdict))
        elif "p50_hours" in kpi:
            value = f"p50 {_hours(kpi['p50_hours'])}, p90 {_hours(kpi['p90_hours'])}"
            rows.append((name, f"{kpi['count']:,}", value, "", ""))
    return rows


def kpi_table(document: dict[str, Any]) -> Table:
    """The rows above as a table titled with the period."""
    title = f"KPIs {document.get('from', '')[:10]} .. {document.get('to', '')[:10]}"
    table = Table("KPI", "count", "value", "target", "", title=title)
    for row in kpi_rows(document):
        table.add_row(*row, style="red" if row[4] == "MISSED" else None)
    return table
