"""The demo's company and its people's decisions are seeded: the same seed, the same year."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from followup.core.auth import Role, TokenTable
from followup.core.demo import behaviour
from followup.core.demo.company import HISTORY_MONTHS, PLAY_START, make_company
from followup.core.demo.report import kpi_rows
from followup.core.demo.settle import tick_figures

SH = ZoneInfo("Asia/Shanghai")


def test_the_same_seed_makes_the_same_company_and_another_seed_another() -> None:
    assert make_company(200, 12, seed=1) == make_company(200, 12, seed=1)
    assert make_company(200, 12, seed=1).customers != make_company(200, 12, seed=2).customers


def test_customers_spread_over_tiers_segments_regions_and_zones() -> None:
    company = make_company(2000, 12, seed=1)
    assert len(company.customers) == 2000
    assert set(Counter(c.tier for c in company.customers)) == {"gold", "silver", "bronze"}
    assert set(Counter(c.segment for c in company.customers)) == {
        "individual",
        "enterprise",
        "institution",
    }
    assert len({c.region for c in company.customers}) == 6
    assert {c.timezone for c in company.customers} == {
        "Asia/Shanghai",
        "Asia/Hong_Kong",
        "Asia/Urumqi",
    }


def test_deliveries_span_the_history_and_the_played_months_in_order() -> None:
    company = make_company(2000, 12, seed=1)
    times = [d.delivered_at for d in company.deliveries]
    assert times == sorted(times)
    assert min(times) >= PLAY_START - timedelta(days=HISTORY_MONTHS * 30)
    assert min(times) < PLAY_START <= max(times) < datetime(2027, 1, 1, tzinfo=SH)
    repeat_buyers = Counter(d.customer.customer_id for d in company.deliveries)
    assert max(repeat_buyers.values()) == 2


def test_every_roster_member_gets_a_token_with_a_department_the_services_accept() -> None:
    company = make_company(300, 3, seed=1)
    table = TokenTable.from_env({"FOLLOWUP_TOKENS": json.dumps(company.tokens())})
    for agent in company.agents:
        principal = table.lookup(agent.token)
        assert principal is not None
        assert principal.department == agent.department
        assert principal.role == (Role.SUPERVISOR if agent.role == "supervisor" else Role.AGENT)
    managers = {c.account_manager_id for c in company.customers}
    assert managers <= {a.agent_id for a in company.visiting_agents()}


def test_a_visit_log_is_decided_by_the_seed_and_the_visit_alone() -> None:
    visit = {"visit_id": "V-1", "attempt": 1, "kinds": ["routine"]}
    now = datetime(2026, 3, 2, 16, tzinfo=SH)
    first = behaviour.visit_log(1, visit, now, rescheduled_before=False)
    assert first == behaviour.visit_log(1, visit, now, rescheduled_before=False)
    follow_up = {"visit_id": "V-2", "attempt": 1, "kinds": ["issue_follow_up"]}
    completed = [
        behaviour.visit_log(s, follow_up, now, False)
        for s in range(200)
        if behaviour.visit_log(s, follow_up, now, False)["outcome"] == "completed"
    ]
    assert completed and all("issue_confirmed" in body for body in completed)
    assert not any("problems" in body for body in completed)


def test_most_visits_are_logged_on_time_and_some_late() -> None:
    delays = [behaviour.log_delay_days(1, f"V-{n}", 1) for n in range(1000)]
    assert 600 < delays.count(0) < 850
    assert any(d > 7 for d in delays)


def test_the_kpi_rows_show_each_ratio_against_its_target() -> None:
    document = {
        "from": "2026-01-01T00:00:00+08:00",
        "groups": [
            {
                "key": "all",
                "satisfaction_rate": {
                    "numerator": 97,
                    "denominator": 99,
                    "value": 97 / 99,
                    "target": 0.98,
                    "met": False,
                },
                "handover_time": {"count": 3, "p50_hours": 2.0, "p90_hours": 20.0},
            }
        ],
    }
    assert kpi_rows(document) == [
        ("satisfaction_rate", "97 / 99", "97.98%", "98.00%", "MISSED"),
        ("handover_time", "3", "p50 2.0 h, p90 20.0 h", "", ""),
    ]
    assert kpi_rows({"groups": []}) == []


def test_tick_figures_read_the_ticks_and_the_clock_from_the_metrics_text() -> None:
    text = (
        "# TYPE followup_clock_ticks_total counter\n"
        'followup_clock_ticks_total{consumer="scheduling"} 34.0\n'
        "followup_clock_now_seconds 1.7698752e+09\n"
    )
    assert tick_figures(text) == (34.0, 1.7698752e09)
    assert tick_figures("followup_clock_now_seconds 0.0\n") == (None, 0.0)
