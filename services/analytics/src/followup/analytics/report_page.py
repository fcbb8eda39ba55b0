"""The monthly report as one self-contained HTML page: inline SVG charts, inline CSS, no script
and nothing fetched from the network. Every value from the report is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 960px; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { border-bottom: 1px solid #ddd; padding: .25rem .75rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #1a7f37; } .missed { color: #cf222e; } .none { color: #777; }
svg text { font-size: 12px; fill: #222; }
"""

_LABELS = {
    "satisfaction_rate": "Satisfaction (≥ 4)",
    "visit_on_time_rate": "Visits on time",
    "handover_sla_met_rate": "Handover SLA met",
    "first_response_sla_met_rate": "First response SLA met",
    "resolution_sla_met_rate": "Resolution SLA met",
    "resolution_rate": "Resolution rate",
    "closure_rate": "Closure rate (confirmed)",
    "complaint_return_visit_rate": "Complaint return visits",
    "repair_return_visit_rate": "Repair return visits",
    "visit_response_time": "Visit response (due → completed)",
    "handover_time": "Issue handover",
    "first_response_time": "Issue first response",
    "resolution_time": "Issue resolution",
}


def _pct(value: float | None) -> str:
    # Shown to two decimals for reading only; `met` was decided on the exact ratio.
    return "—" if value is None else f"{value * 100:.2f}%"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def kpi_chart(kpis: dict[str, dict[str, Any]]) -> str:
    """Horizontal bars, 0–100%, one per ratio KPI, with the target as a vertical mark."""
    label_w, bar_w, row_h = 210, 420, 26
    height = row_h * len(kpis) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
        f'height="{height}" role="img" aria-label="KPIs against target">'
    ]
    for i, (name, k) in enumerate(kpis.items()):
        y = 5 + i * row_h
        value, target = k["value"], k["target"]
        colour = "#999" if k["met"] is None else ("#2da44e" if k["met"] else "#cf222e")
        if k["target"] is None and value is not None:
            colour = "#0969da"
        parts.append(f'<text x="0" y="{y + 15}">{escape(_LABELS.get(name, name))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#eee"/>')
        if value is not None:
            w = round(bar_w * min(max(value, 0.0), 1.0), 1)
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="16" fill="{colour}"/>'
            )
        if target is not None:
            x = label_w + round(bar_w * target, 1)
            parts.append(
                f'<line x1="{x}" y1="{y}" x2="{x}" y2="{y + 22}" stroke="#222" stroke-width="2"/>'
            )
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 15}">{_pct(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def count_chart(rows: list[dict[str, Any]], key: str, title: str) -> str:
    """Vertical bars of counts (top categories, breaches)."""
    if not rows:
        return '<p class="none">none</p>'
    bar_w, gap, chart_h = 64, 100, 140  # a slot fits a 22-character label
    top = max(r["count"] for r in rows) or 1
    width = len(rows) * (bar_w + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{chart_h + 40}" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    for i, r in enumerate(rows):
        h = round(chart_h * r["count"] / top, 1)
        x = gap + i * (bar_w + gap)
        y = 10 + chart_h - h
        parts.append(f'<rect x="{x}" y="{y}" width="{bar_w}" height="{h}" fill="#0969da"/>')
        parts.append(f'<text x="{x + 4}" y="{y - 2}">{r["count"]}</text>')
        parts.append(
            f'<text x="{x}" y="{chart_h + 28}">{escape(str(r[key] or "unowned")[:22])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _kpi_table(kpis: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, k in kpis.items():
        status = {True: ("met", "met"), False: ("missed", "missed"), None: ("none", "—")}[k["met"]]
        rows.append(
            f"<tr><td>{escape(_LABELS.get(name, name))}</td>"
            f'<td class="n">{k["numerator"]} / {k["denominator"]}</td>'
            f'<td class="n">{_pct(k["value"])}</td><td class="n">{_pct(k["target"])}</td>'
            f'<td class="{status[0]}">{status[1]}</td></tr>'
        )
    head = "<tr><th>KPI</th><th>count</th><th>rate</th><th>target</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _times_table(times: dict[str, dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(_LABELS.get(name, name))}</td><td class='n'>{t['count']}</td>"
        f"<td class='n'>{_hours(t['p50_hours'])}</td><td class='n'>{_hours(t['p90_hours'])}</td>"
        "</tr>"
        for name, t in times.items()
    )
    return f"<table><tr><th></th><th>n</th><th>p50</th><th>p90</th></tr>{rows}</table>"


def _spot_checks(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="none">no spot checks</p>'
    body = "".join(
        f"<tr><td>{escape(str(r['agent_id']))}</td>"
        f"<td class='n'>{r['numerator']} / {r['denominator']}</td>"
        f"<td class='n'>{_pct(r['value'])}</td></tr>"
        for r in rows
    )
    return f"<table><tr><th>agent</th><th>verified</th><th>rate</th></tr>{body}</table>"


def _at_risk(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="none">no customer at risk</p>'
    body = "".join(
        f"<tr><td>{escape(r['customer_id'])}</td><td>{escape(str(r['tier'] or ''))}</td>"
        f"<td>{escape(str(r['region'] or ''))}</td>"
        f"<td>{escape(', '.join(r['rules']))}</td></tr>"
        for r in rows
    )
    return (
        f"<table><tr><th>customer</th><th>tier</th><th>region</th><th>rules</th></tr>{body}</table>"
    )


def render(report: dict[str, Any]) -> str:
    """The report document (views.monthly_report) as an HTML page."""
    month = escape(report["month"])
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>followup: monthly report {month}</title><style>{_STYLE}</style></head><body>",
            f"<h1>Monthly report {month}</h1>",
            f"<p>{escape(report['from'])} to {escape(report['to'])}, "
            f"as of {escape(report['as_of'])}.</p>",
            "<h2>KPIs against target</h2>",
            kpi_chart(report["kpis"]),
            _kpi_table(report["kpis"]),
            "<h2>Response and resolution times</h2>",
            _times_table(report["times"]),
            "<h2>Top problem categories</h2>",
            count_chart(report["top_problem_categories"], "category", "top problem categories"),
            "<h2>Most frequent problems</h2>",
            count_chart(
                [
                    {"problem": f"{p['category']} ({p['severity']})", "count": p["count"]}
                    for p in report["most_frequent_problems"]
                ],
                "problem",
                "most frequent problems",
            ),
            "<h2>Most SLA breaches: agents</h2>",
            count_chart(report["agents_most_breaches"], "agent_id", "breaches by agent"),
            "<h2>Most SLA breaches: departments</h2>",
            count_chart(
                report["departments_most_breaches"], "department", "breaches by department"
            ),
            "<h2>Spot-check pass rate by agent</h2>",
            _spot_checks(report["spot_check_pass_rate_by_agent"]),
            "<h2>Customers at risk</h2>",
            _at_risk(report["customers_at_risk"]),
            "</body></html>",
        ]
    )
