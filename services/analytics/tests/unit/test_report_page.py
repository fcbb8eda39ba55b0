"""The report page is self-contained and escapes what it shows."""

from __future__ import annotations

from analytics_march import APRIL_10, MARCH, MARCH_EVENTS

from followup.analytics import report_page
from followup.analytics.domain import views
from followup.analytics.domain.model import fold


def test_every_value_shown_is_escaped_and_a_target_missed_is_marked() -> None:
    report = views.monthly_report(fold(MARCH_EVENTS), "2026-03", MARCH, APRIL_10)
    report["agents_most_breaches"] = [{"agent_id": "<script>x</script>", "count": 2}]
    report["customers_at_risk"][0]["customer_id"] = 'C-"&<b>'
    html = report_page.render(report)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'C-"&<b>' not in html and "C-&quot;&amp;&lt;b&gt;" in html
    # Satisfaction 2/3 misses its 98 % target: red bar, "missed" in the table.
    assert 'fill="#cf222e"' in html and ">missed<" in html
    assert html.startswith("<!doctype html>") and html.endswith("</html>")


def test_a_month_without_data_says_so_instead_of_drawing_zeros() -> None:
    report = views.monthly_report(fold([]), "2026-03", MARCH, APRIL_10)
    assert all(k["value"] is None and k["met"] is None for k in report["kpis"].values())
    html = report_page.render(report)
    assert "no customer at risk" in html and "no spot checks" in html
    assert html.count('fill="#2da44e"') == 0 and html.count('fill="#cf222e"') == 0
