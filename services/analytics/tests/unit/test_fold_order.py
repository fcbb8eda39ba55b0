"""The fold commutes: topics are read in any interleaving on replay (SPEC §1), and redelivered
events arrive twice, so the same events in any order, with duplicates, give equal facts."""

from __future__ import annotations

from datetime import timedelta

from analytics_builders import (
    MARCH,
    assigned,
    at,
    breached,
    checked,
    closed,
    delivered,
    due,
    logged,
    moved,
    paused,
    raised,
    reopened,
    resolved,
    resumed,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.analytics.domain.churn import churn_signals
from followup.analytics.domain.issues import (
    closure_rate,
    handover_time,
    resolution_rate,
    resolution_time,
    return_visit_rate,
    sla_met_rate,
)
from followup.analytics.domain.model import AnalyticsEvent, Facts, fold
from followup.analytics.domain.visits import (
    on_time_rate,
    satisfaction_rate,
    spot_check_pass_rate,
    visit_response_time,
)
from followup.events import ClockAdvanced, ProjectStarted

HISTORY: list[AnalyticsEvent] = [
    delivered("C-1", at(1, 5), tier="silver"),
    delivered("C-1", at(3, 10), tier="gold", order_id="O-2"),
    due("V-1", at(3, 2), at(3, 9, 23, 59)),
    logged("V-1", at(3, 2, 10), outcome="unreachable"),
    due("V-1", at(3, 3), at(3, 4, 23, 59), kinds=("retry",), attempt=2, agent_id="A-2"),
    moved("V-1", at(3, 6, 23, 59), at(3, 3, 12)),
    logged("V-1", at(3, 5, 10), agent_id="A-2", satisfaction=2),
    checked("V-1", at(3, 8), "not_verified", agent_id="A-2"),
    logged("V-1", at(3, 9), agent_id="A-1", satisfaction=1),
    raised("I-1", at(3, 2, 9), category="complaint"),
    assigned("I-1", at(3, 2, 12), department="customer_service"),
    assigned("I-1", at(3, 4, 12), assignee_id="A-3", department="customer_service"),
    resolved("I-1", at(3, 5, 9), at(3, 5, 23, 59)),
    reopened("I-1", at(3, 7, 9), at(3, 10, 23, 59)),
    paused("I-1", 1, at(3, 8, 9)),
    resumed("I-1", 1, at(3, 9, 9)),
    breached("I-1", "resolution", at(3, 10, 23, 59), department="customer_service", round_=2),
    resolved("I-1", at(3, 12, 9), at(3, 10, 23, 59), paused_seconds=600),
    due("V-2", at(3, 13), at(3, 14, 23, 59), kinds=("issue_follow_up",), issue_id="I-1"),
    logged("V-2", at(3, 13, 15), satisfaction=5),
    closed("I-1", at(3, 13, 16), visit_id="V-2"),
    raised("I-2", at(3, 20, 9), category="complaint", source="complaint"),
    breached("I-2", "handover", at(3, 21, 23, 59), department="customer_service", owner_id=None),
]


def summary(facts: Facts) -> tuple[object, ...]:
    as_of = at(4, 10)
    return (
        on_time_rate(facts, MARCH, as_of, "agent"),
        resolution_rate(facts, MARCH, as_of, "department"),
        sla_met_rate(facts, "resolution", MARCH, as_of),
        churn_signals(facts, MARCH, as_of),
    )


@settings(max_examples=200, deadline=timedelta(seconds=2))
@given(
    order=st.permutations(HISTORY),
    repeats=st.lists(st.sampled_from(HISTORY), max_size=6),
)
def test_any_order_with_redeliveries_folds_to_the_same_facts(
    order: list[AnalyticsEvent], repeats: list[AnalyticsEvent]
) -> None:
    expected = fold(HISTORY)
    shuffled = fold([*order, *repeats])
    assert shuffled == expected
    assert summary(shuffled) == summary(expected)


def test_the_reference_history_says_something() -> None:
    # Guards the property test against a history where every KPI is empty.
    on_time, resolution, sla, churn = summary(fold(HISTORY))
    assert on_time  # V-1 is judged (late: a failed spot check)
    assert resolution and sla
    assert {s.rule for s in churn} >= {"gold_sla_breach", "complaints_within_90_days"}  # type: ignore[attr-defined]


# Generated histories: few visits, issues and instants, so that facts often tie on time and a
# rule that picked by arrival order would show.
INSTANTS = [at(3, day, hour) for day in (2, 3, 5) for hour in (9, 18)]
moment = st.sampled_from(INSTANTS)
visit_ids = st.sampled_from(["V-1", "V-2"])
issue_ids = st.sampled_from(["I-1", "I-2"])
agents = st.sampled_from(["A-1", "A-2"])
visit_events = st.one_of(
    st.builds(
        lambda v, t, n, a: due(v, t, t + timedelta(days=n), attempt=1 + n % 3, agent_id=a),
        visit_ids,
        moment,
        st.integers(0, 3),
        agents,
    ),
    st.builds(
        lambda v, t, a, o, s: logged(v, t, agent_id=a, outcome=o, satisfaction=s),
        visit_ids,
        moment,
        agents,
        st.sampled_from(["completed", "unreachable"]),
        st.integers(1, 5),
    ),
    st.builds(
        lambda v, t, r, a: checked(v, t, r, agent_id=a),
        visit_ids,
        moment,
        st.sampled_from(["verified", "not_verified"]),
        agents,
    ),
    st.builds(
        lambda v, t, n: moved(v, t + timedelta(days=n), t), visit_ids, moment, st.integers(1, 4)
    ),
)
issue_events = st.one_of(
    st.builds(
        lambda i, t, c: raised(i, t, category=c),
        issue_ids,
        moment,
        st.sampled_from(["fault", "complaint"]),
    ),
    st.builds(lambda i, t, a: assigned(i, t, assignee_id=a), issue_ids, moment, agents),
    st.builds(
        lambda i, t, p: resolved(i, t, t + timedelta(days=1), paused_seconds=p),
        issue_ids,
        moment,
        st.integers(0, 3600),
    ),
    st.builds(lambda i, t: reopened(i, t, t + timedelta(days=3)), issue_ids, moment),
    st.builds(lambda i, t: closed(i, t), issue_ids, moment),
    st.builds(paused, issue_ids, st.integers(1, 2), moment),
    st.builds(resumed, issue_ids, st.integers(1, 2), moment),
    st.builds(
        lambda i, c, t, a: breached(i, c, t, owner_id=a),
        issue_ids,
        st.sampled_from(["handover", "first_response", "resolution"]),
        moment,
        agents,
    ),
)
histories = st.lists(st.one_of(visit_events, issue_events), min_size=1, max_size=25)


def every_kpi(facts: Facts) -> tuple[object, ...]:
    as_of = at(3, 20)
    return (
        *tuple(
            f(facts, MARCH, as_of, grouping)
            for f in (
                on_time_rate,
                satisfaction_rate,
                visit_response_time,
                spot_check_pass_rate,
                handover_time,
                resolution_time,
                resolution_rate,
                closure_rate,
            )
            for grouping in ("all", "agent")
        ),
        sla_met_rate(facts, "resolution", MARCH, as_of, "agent"),
        return_visit_rate(facts, "complaint", MARCH, as_of),
        churn_signals(facts, MARCH, as_of),
    )


@settings(max_examples=300, deadline=timedelta(seconds=2))
@given(history=histories, data=st.data())
def test_generated_histories_give_the_same_kpis_in_any_order(
    history: list[AnalyticsEvent], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(history))
    assert fold(order) == fold(history)
    assert every_kpi(fold(order)) == every_kpi(fold(history))


def test_events_no_kpi_reads_leave_the_facts_as_they_are() -> None:
    started = ProjectStarted.model_validate({"customer_id": "C-1", "started_at": at(3, 3)})
    tick = ClockAdvanced.model_validate({"now": at(3, 4)})
    facts = fold(HISTORY)
    assert fold([started, tick], facts) == facts
