"""Routing (SPEC §10): the account manager if active, else the policy's team, its least-loaded
active agent (ties by agent id); gold first among equal deadlines; inactive agents' visits move."""

from __future__ import annotations

from datetime import UTC, datetime

from followup.core.policy import load_preset
from followup.core.roster import parse_roster
from followup.events import VisitDue
from followup.visits.domain.model import Visit, assign_account_manager, evolve
from followup.visits.domain.routing import (
    CustomerFacts,
    reroute_from_inactive,
    route_visits,
    routing_event_id,
)

POLICY = load_preset("generic")  # sales by default, issue follow-ups to customer-service
ROSTER = parse_roster(
    {
        "teams": {"sales": {}, "customer-service": {}},
        "agents": {
            "AM-1": {"team": "sales", "department": "customer_service"},
            "AM-2": {"team": "sales", "department": "customer_service", "active": False},
            "S-B": {"team": "sales", "department": "customer_service"},
            "S-A": {"team": "sales", "department": "customer_service"},
            "CS-1": {"team": "customer-service", "department": "customer_service"},
        },
    }
)
# Monday 1 March 2027, 09:00 in Shanghai.
NOW = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
DEADLINE = datetime(2027, 3, 8, 15, 59, 59, tzinfo=UTC)


def visit(
    visit_id: str, customer_id: str, kind: str = "routine", deadline: datetime = DEADLINE
) -> Visit:
    due = VisitDue(
        visit_id=visit_id,
        customer_id=customer_id,
        kinds=[kind],
        due_at=NOW,
        deadline=deadline,
        attempt=1,
        reason="r",
    )
    folded = evolve(None, due)
    assert folded is not None
    return folded


def agents(decided: list[tuple[str, object]]) -> list[tuple[str, str, str | None]]:
    return [(e.visit_id, e.agent_id, e.team) for _, e in decided]  # type: ignore[attr-defined]


def test_an_active_account_manager_takes_the_visit_and_an_inactive_one_does_not() -> None:
    customers = {"C-1": CustomerFacts("AM-1"), "C-2": CustomerFacts("AM-2")}
    decided = route_visits(
        [visit("V-1", "C-1"), visit("V-2", "C-2")], customers, ROSTER, POLICY, {}, NOW
    )
    # AM-2 is inactive: its customer's visit goes to the sales team, S-A before S-B by id.
    assert agents(decided) == [("V-1", "AM-1", None), ("V-2", "S-A", "sales")]
    assert decided[0][0] == routing_event_id("V-1")
    assert all(e.assigned_by == "routing" and e.assigned_at == NOW for _, e in decided)


def test_the_least_loaded_agent_of_the_team_takes_it_ties_by_agent_id() -> None:
    decided = route_visits(
        [visit("V-1", "C-1"), visit("V-2", "C-2"), visit("V-3", "C-3")],
        {},
        ROSTER,
        POLICY,
        {"S-A": 2, "S-B": 1, "AM-1": 5},
        NOW,
    )
    # S-B has 1 open visit, S-A 2: S-B, then both have 2 and S-A wins the tie, then S-B.
    assert [a for _, a, _ in agents(decided)] == ["S-B", "S-A", "S-B"]


def test_an_issue_follow_up_of_a_customer_without_account_manager_goes_to_customer_service() -> (
    None
):
    decided = route_visits(
        [visit("V-1", "C-1", kind="issue_follow_up")],
        {"C-1": CustomerFacts(None, "CN", "individual", "gold")},
        ROSTER,
        POLICY,
        {},
        NOW,
    )
    assert agents(decided) == [("V-1", "CS-1", "customer-service")]
    # With an active account manager, the account manager takes it (SPEC §10's first rule).
    managed = route_visits(
        [visit("V-2", "C-2", kind="issue_follow_up")],
        {"C-2": CustomerFacts("AM-1")},
        ROSTER,
        POLICY,
        {},
        NOW,
    )
    assert agents(managed) == [("V-2", "AM-1", None)]


def test_gold_customers_come_first_among_equal_deadlines() -> None:
    later = datetime(2027, 3, 9, 15, 59, 59, tzinfo=UTC)
    customers = {"C-g": CustomerFacts(tier="gold"), "C-s": CustomerFacts(tier="silver")}
    decided = route_visits(
        [visit("V-1", "C-s"), visit("V-2", "C-g"), visit("V-0", "C-g", deadline=later)],
        customers,
        ROSTER,
        POLICY,
        {},
        NOW,
    )
    # The gold V-2 is picked first (all idle: AM-1 by id); the later deadline comes last.
    assert agents(decided) == [
        ("V-2", "AM-1", "sales"),
        ("V-1", "S-A", "sales"),
        ("V-0", "S-B", "sales"),
    ]


def test_a_visit_already_assigned_or_with_nobody_active_in_its_team_is_not_routed() -> None:
    assigned = route_visits([visit("V-1", "C-1")], {}, ROSTER, POLICY, {}, NOW)
    again = evolve(visit("V-1", "C-1"), assigned[0][1])
    assert again is not None
    assert route_visits([again], {}, ROSTER, POLICY, {}, NOW) == []
    nobody = parse_roster({"teams": {"sales": {}}, "agents": {}})
    assert route_visits([visit("V-2", "C-2")], {}, nobody, POLICY, {}, NOW) == []


def test_an_inactive_agents_open_visit_moves_to_an_active_one_with_a_reason() -> None:
    customers = {"C-1": CustomerFacts("AM-2")}
    # Before the roster marked AM-2 inactive, the visit was its (the account manager's).
    old = assign_account_manager(visit("V-1", "C-1"), "AM-2")
    loads = {"AM-1": 3, "S-A": 1}
    decided = reroute_from_inactive([old], customers, ROSTER, POLICY, loads, NOW)
    assert agents(decided) == [("V-1", "S-B", "sales")]
    assert decided[0][1].reason == "AM-2 is not active"
    assert decided[0][0] == routing_event_id("V-1", "AM-2")
    moved = evolve(old, decided[0][1])
    assert moved is not None
    assert reroute_from_inactive([moved], customers, ROSTER, POLICY, {}, NOW) == []
