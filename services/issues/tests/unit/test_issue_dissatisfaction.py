"""Every unhappy customer is followed up (SPEC §10): a completed log scored at or below the
threshold (default 2) with no problem named raises a `service` / `general` issue whose
description names the score only."""

from __future__ import annotations

from typing import Any

from issue_builders import CAL, at, end_of

from followup.events import VisitLogged
from followup.issues.domain.raising import (
    issue_id_for_dissatisfaction,
    raise_dissatisfaction_issue,
)


def log(**fields: Any) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-1",
            "customer_id": "C-1",
            "agent_id": "A-1",
            "channel": "phone",
            "outcome": "completed",
            # Thursday 5 March 2026, 10:00 in Shanghai.
            "logged_at": at(2026, 3, 5, 10),
            "satisfaction": 1,
            "feedback": "the installer was rude and left a mess",
            **fields,
        }
    )


def test_a_satisfaction_1_log_without_problems_raises_a_general_service_issue() -> None:
    raised = raise_dissatisfaction_issue(log(), CAL)
    assert raised is not None
    assert (raised.category, raised.severity, raised.department) == (
        "service",
        "general",
        "customer_service",
    )
    assert raised.visit_id == "V-1" and raised.source == "visit"
    assert raised.description == "Satisfaction 1 of 5 on the visit, with no problem named."
    assert "rude" not in raised.description
    # Raised Thu 5 Mar: handed over by the end of Fri 6 Mar, resolved by the end of Tue 10 Mar.
    assert raised.handover_by == end_of(2026, 3, 6)
    assert raised.resolve_by == end_of(2026, 3, 10)
    assert raised.issue_id == issue_id_for_dissatisfaction("V-1", log().logged_at)
    assert raise_dissatisfaction_issue(log(), CAL) == raised  # the same log, the same issue


def test_a_score_of_2_raises_one_and_3_does_not() -> None:
    assert raise_dissatisfaction_issue(log(satisfaction=2), CAL) is not None
    assert raise_dissatisfaction_issue(log(satisfaction=3), CAL) is None
    assert raise_dissatisfaction_issue(log(satisfaction=3), CAL, at_or_below=3) is not None


def test_a_log_naming_a_problem_or_an_issues_own_follow_up_raises_no_second_issue() -> None:
    problem = {
        "problem_id": "P-1",
        "category": "fault",
        "severity": "general",
        "description": "no sound",
    }
    assert raise_dissatisfaction_issue(log(problems=[problem]), CAL) is None
    assert raise_dissatisfaction_issue(log(issue_id="I-9", issue_confirmed=True), CAL) is None
