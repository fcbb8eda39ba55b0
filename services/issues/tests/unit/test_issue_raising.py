"""Raising issues: one per problem of a visit log or per direct report, owned by the category's
department, with handover, first-response and resolution deadlines in the customer's zone.

2026 around Spring Festival: Sat Feb 14 is a make-up working day, Feb 15–23 are off,
Sat Feb 28 is a make-up working day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from issue_builders import CAL, SH, at, end_of

from followup.core.problems import STATUS_BY_KIND
from followup.core.rejections import Rejection, RejectionKind
from followup.events import IssueRaised, VisitLogged, derived_id
from followup.issues.domain.raising import (
    RaiseComplaint,
    department_for,
    issue_id_for_problem,
    raise_complaint,
    raise_issues_from_visit,
    sla_deadlines,
)

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("category", "department"),
    [
        ("fault", "after_sales"),
        ("maintenance", "after_sales"),
        ("technical", "technical"),
        ("complaint", "customer_service"),
        ("service", "customer_service"),
        ("other", "customer_service"),
    ],
)
def test_each_category_belongs_to_its_department(category: str, department: str) -> None:
    assert department_for(category) == department  # type: ignore[arg-type]


DEADLINES = [
    pytest.param(
        at(2026, 2, 13, 18, 5), "general",
        end_of(2026, 2, 14), at(2026, 2, 14, 18, 5), end_of(2026, 2, 25),
        id="friday evening before Spring Festival: handed over on the make-up Saturday Feb 14",
    ),
    pytest.param(
        at(2026, 2, 13, 18, 5), "complex",
        end_of(2026, 2, 14), at(2026, 2, 14, 18, 5), end_of(2026, 3, 2),
        id="complex across the festival: Feb 14, 24-28 (Sat 28 works) and Mon Mar 2",
    ),
    pytest.param(
        at(2026, 2, 14, 10), "general",
        end_of(2026, 2, 24), at(2026, 2, 15, 10), end_of(2026, 2, 26),
        id="raised on the make-up Saturday: its own day is not counted, the holiday is skipped",
    ),
    pytest.param(
        at(2026, 2, 18, 9), "general",
        end_of(2026, 2, 24), at(2026, 2, 19, 9), end_of(2026, 2, 26),
        id="raised in the holiday: counting starts on the first day back, Tue Feb 24",
    ),
    pytest.param(
        at(2026, 2, 23, 23, 30), "general",
        end_of(2026, 2, 24), at(2026, 2, 24, 23, 30), end_of(2026, 2, 26),
        id="last evening of the holiday: first response runs on wall-clock hours",
    ),
    pytest.param(
        at(2026, 2, 26, 15), "general",
        end_of(2026, 2, 27), at(2026, 2, 27, 15), end_of(2026, 3, 2),
        id="thursday report: the make-up Saturday Feb 28 is the second working day",
    ),
    pytest.param(
        at(2026, 3, 6, 19, 30), "general",
        end_of(2026, 3, 9), at(2026, 3, 7, 19, 30), end_of(2026, 3, 11),
        id="ordinary friday evening: the weekend does not count, first response falls on Sat",
    ),
    pytest.param(
        at(2026, 3, 6, 19, 30), "complex",
        end_of(2026, 3, 9), at(2026, 3, 7, 19, 30), end_of(2026, 3, 17),
        id="ordinary friday evening, complex: seven working days to Tue Mar 17",
    ),
    pytest.param(
        at(2026, 3, 10, 23, 59, 59), "general",
        end_of(2026, 3, 11), end_of(2026, 3, 11), end_of(2026, 3, 13),
        id="a second before midnight still counts from the next day",
    ),
    pytest.param(
        datetime(2026, 3, 5, 17, 0, tzinfo=UTC), "general",
        end_of(2026, 3, 9), at(2026, 3, 7, 1), end_of(2026, 3, 11),
        id="the customer's local date decides: 17:00 UTC Thursday is 01:00 Friday in Shanghai",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("raised_at", "severity", "handover", "respond", "resolve"), DEADLINES)
def test_deadlines_are_counted_in_working_days_of_the_customers_zone(
    raised_at: datetime, severity: str, handover: datetime, respond: datetime, resolve: datetime
) -> None:
    deadlines = sla_deadlines(raised_at, severity, "Asia/Shanghai", CAL)

    assert (deadlines.handover_by, deadlines.respond_by, deadlines.resolve_by) == (
        handover,
        respond,
        resolve,
    )
    assert deadlines.handover_by.tzinfo == SH  # local times on the wire


def test_first_response_is_24_real_hours_even_across_a_dst_change() -> None:
    # New York springs forward on Sun 2026-03-08 at 02:00: 24 hours later reads 13:00 local.
    raised_at = datetime(2026, 3, 7, 12, 0, tzinfo=NY)

    deadlines = sla_deadlines(raised_at, "general", "America/New_York", CAL)

    assert deadlines.respond_by == datetime(2026, 3, 8, 13, 0, tzinfo=NY)
    assert (deadlines.respond_by - raised_at).total_seconds() != 24 * 3600  # wall arithmetic
    assert deadlines.respond_by.timestamp() - raised_at.timestamp() == 24 * 3600


def visit_with_problems() -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-9",
            "customer_id": "C-000123",
            "agent_id": "A-007",
            "channel": "onsite",
            "outcome": "completed",
            "logged_at": at(2026, 2, 13, 18, 5),
            "satisfaction": 3,
            "problems": [
                {
                    "problem_id": "P-1",
                    "category": "fault",
                    "severity": "general",
                    "description": "remote control pairing drops",
                },
                {
                    "problem_id": "P-2",
                    "category": "technical",
                    "severity": "complex",
                    "description": "the projector firmware will not update",
                },
            ],
        }
    )


def test_every_problem_of_a_visit_raises_its_own_issue_with_a_derived_id() -> None:
    issues = raise_issues_from_visit(visit_with_problems(), CAL)

    assert [i.issue_id for i in issues] == [
        derived_id("issue", "P-1"),
        derived_id("issue", "P-2"),
    ]
    assert [(i.department, i.severity) for i in issues] == [
        ("after_sales", "general"),
        ("technical", "complex"),
    ]
    assert all(i.source == "visit" and i.visit_id == "V-9" for i in issues)
    assert all(i.raised_at == at(2026, 2, 13, 18, 5) for i in issues)
    assert [i.resolve_by for i in issues] == [end_of(2026, 2, 25), end_of(2026, 3, 2)]


def test_the_same_visit_log_raises_the_same_issues_again_on_replay() -> None:
    first = raise_issues_from_visit(visit_with_problems(), CAL)
    again = raise_issues_from_visit(visit_with_problems(), CAL)

    assert first == again
    assert issue_id_for_problem("P-1") != issue_id_for_problem("P-2")


def test_a_visit_without_problems_raises_nothing() -> None:
    visit = visit_with_problems().model_copy(update={"problems": None})

    assert raise_issues_from_visit(visit, CAL) == []


def test_a_complaint_is_raised_now_with_the_callers_issue_id() -> None:
    command = RaiseComplaint(
        customer_id="C-000123",
        category="complaint",
        severity="general",
        description="the installer was two hours late",
    )

    raised = raise_complaint(command, "I-77", at(2026, 3, 6, 19, 30), CAL)

    assert isinstance(raised, IssueRaised)
    assert raised.issue_id == "I-77"
    assert raised.source == "complaint"
    assert raised.visit_id is None
    assert raised.department == "customer_service"
    assert raised.raised_at == at(2026, 3, 6, 19, 30)
    assert (raised.handover_by, raised.respond_by, raised.resolve_by) == (
        end_of(2026, 3, 9),
        at(2026, 3, 7, 19, 30),
        end_of(2026, 3, 11),
    )


def test_a_hotline_report_in_another_zone_is_counted_in_that_zone() -> None:
    command = RaiseComplaint(
        customer_id="C-9",
        category="fault",
        severity="general",
        description="no sound",
        source="hotline",
        timezone="America/New_York",
    )
    # Fri 2026-03-06 23:30 in New York is already Saturday in Shanghai.
    now = datetime(2026, 3, 6, 23, 30, tzinfo=NY)

    raised = raise_complaint(command, "I-78", now, CAL)

    assert isinstance(raised, IssueRaised)
    assert raised.source == "hotline"
    assert raised.handover_by == datetime(2026, 3, 9, 23, 59, 59, tzinfo=NY)
    assert raised.raised_at.utcoffset() == NY.utcoffset(now)


def test_an_invalid_complaint_is_refused_with_every_field_error_at_once() -> None:
    command = RaiseComplaint(
        customer_id=None,
        category="broken",
        severity=None,
        description="   ",
        source="visit",
        timezone="Mars/Olympus_Mons",
    )

    rejection = raise_complaint(command, "I-79", at(2026, 3, 6, 10), CAL)

    assert isinstance(rejection, Rejection)
    assert rejection.kind == RejectionKind.INVALID
    assert STATUS_BY_KIND[rejection.kind] == 422
    assert [e.field for e in rejection.errors] == [
        "customer_id",
        "category",
        "severity",
        "description",
        "source",
        "timezone",
    ]
    assert "'broken' is not one of fault" in rejection.errors[1].message


def test_a_description_longer_than_the_contract_allows_is_refused() -> None:
    command = RaiseComplaint(
        customer_id="C-1", category="other", severity="general", description="x" * 4001
    )

    rejection = raise_complaint(command, "I-80", at(2026, 3, 6, 10), CAL)

    assert isinstance(rejection, Rejection)
    assert [(e.field, e.message) for e in rejection.errors] == [
        ("description", "at most 4000 characters")
    ]
