"""Logging a visit: SPEC §3 validation with every field error at once, who may log, and the
VisitLogged it yields."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from followup.core.rejections import FieldError, Rejection, RejectionKind
from followup.events import VisitDue, VisitLogged, derived_id
from followup.visits.domain.log_visit import (
    ALREADY_COMPLETED,
    FEEDBACK_MAX_CHARS,
    LogVisit,
    decide_log_visit,
    problem_id_for,
)
from followup.visits.domain.model import Visit, VisitMissed, assign_account_manager, evolve

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 6, 3, 14, 30, tzinfo=CST)


def queued(
    kinds: tuple[str, ...] = ("routine",), agent_id: str | None = "A-7", issue_id: str | None = None
) -> Visit:
    visit = evolve(
        None,
        VisitDue.model_validate(
            {
                "visit_id": "V-9",
                "customer_id": "C-000456",
                "order_id": "O-2",
                "kinds": list(kinds),
                "due_at": datetime(2026, 6, 1, 9, 0, tzinfo=CST),
                "deadline": datetime(2026, 6, 8, 23, 59, 59, tzinfo=CST),
                "attempt": 1,
                "issue_id": issue_id,
                "agent_id": agent_id,
                "reason": "routine visit",
            }
        ),
    )
    assert visit is not None
    return visit


def follow_up_of_issue() -> Visit:
    return queued(kinds=("issue_follow_up",), issue_id="I-42")


def log(**fields: Any) -> LogVisit:
    body: dict[str, Any] = {"channel": "phone", "outcome": "completed", "satisfaction": 5}
    body.update(fields)
    return LogVisit.model_validate({k: v for k, v in body.items() if v is not ...})


def decide(
    visit: Visit | None, command: LogVisit, acting_agent_id: str | None = "A-7"
) -> VisitLogged | Rejection:
    return decide_log_visit(visit, command, acting_agent_id, NOW, event_id="E-100")


def rejected(
    visit: Visit | None, command: LogVisit, acting_agent_id: str | None = "A-7"
) -> Rejection:
    result = decide(visit, command, acting_agent_id)
    assert isinstance(result, Rejection), result
    return result


def field_errors(visit: Visit, command: LogVisit) -> dict[str, str]:
    rejection = rejected(visit, command)
    assert rejection.kind == RejectionKind.INVALID
    return {e.field: e.message for e in rejection.errors}


def logged(visit: Visit, command: LogVisit, acting_agent_id: str | None = "A-7") -> VisitLogged:
    result = decide(visit, command, acting_agent_id)
    assert isinstance(result, VisitLogged), result
    return result


# What a valid log yields.


def test_a_full_completed_log_yields_visit_logged_with_exactly_the_contracts_fields() -> None:
    event = logged(
        queued(),
        log(
            channel="onsite",
            satisfaction=4,
            checklist={"equipment": 5, "acoustics": 3},
            needs=["upgrade", "referral"],
            feedback="  Happy with the new projector.  ",
            problems=[
                {
                    "category": "fault",
                    "severity": "complex",
                    "description": "left rear speaker hums",
                }
            ],
        ),
    )

    assert event.model_dump(mode="json", exclude_none=True) == {
        "visit_id": "V-9",
        "customer_id": "C-000456",
        "agent_id": "A-7",
        "channel": "onsite",
        "outcome": "completed",
        "logged_at": "2026-06-03T14:30:00+08:00",
        "satisfaction": 4,
        "checklist": {"equipment": 5, "acoustics": 3},
        "needs": ["upgrade", "referral"],
        "feedback": "Happy with the new projector.",
        "problems": [
            {
                "problem_id": problem_id_for("E-100", 0),
                "category": "fault",
                "severity": "complex",
                "description": "left rear speaker hums",
            }
        ],
    }
    assert set(event.model_dump()) == set(VisitLogged.model_fields)


def test_a_minimal_unreachable_log_carries_no_scores() -> None:
    event = logged(queued(), log(outcome="unreachable", satisfaction=...))

    assert event.outcome == "unreachable"
    assert event.satisfaction is None and event.checklist is None
    assert event.needs is None and event.feedback is None and event.problems is None


def test_problem_ids_derive_from_the_log_event_id_and_the_problems_position() -> None:
    problems = [
        {"category": "fault", "severity": "general", "description": "remote dead"},
        {"category": "service", "severity": "general", "description": "late installer"},
    ]
    event = logged(queued(), log(problems=problems))
    again = decide_log_visit(queued(), log(problems=problems), "A-7", NOW, event_id="E-100")
    other = decide_log_visit(queued(), log(problems=problems), "A-7", NOW, event_id="E-101")

    assert isinstance(again, VisitLogged) and isinstance(other, VisitLogged)
    ids = [p.problem_id for p in event.problems or ()]
    assert ids == [derived_id("problem", "E-100", "0"), derived_id("problem", "E-100", "1")]
    assert [p.problem_id for p in again.problems or ()] == ids
    assert not set(ids) & {p.problem_id for p in other.problems or ()}


def test_repeated_needs_are_kept_once_in_their_first_order() -> None:
    event = logged(queued(), log(needs=["referral", "upgrade", "referral"]))

    assert event.needs == ["referral", "upgrade"]


def test_blank_feedback_is_dropped() -> None:
    assert logged(queued(), log(feedback="   ")).feedback is None


def test_a_late_log_on_a_missed_visit_is_accepted() -> None:
    missed = evolve(queued(), VisitMissed("V-9", datetime(2026, 6, 8, 23, 59, 59, tzinfo=CST)))
    assert missed is not None

    assert logged(missed, log()).logged_at == NOW


# Validation: every error at once.


def test_every_invalid_field_is_reported_in_one_rejection() -> None:
    errors = field_errors(
        queued(),
        log(
            channel="fax",
            satisfaction=...,
            checklist={"equipment": 6, "wifi": 3},
            needs=["upgrade", "discount"],
            feedback="x" * (FEEDBACK_MAX_CHARS + 1),
            problems=[{"category": "noise", "severity": "urgent", "description": "  "}],
            issue_confirmed=True,
        ),
    )

    assert set(errors) == {
        "channel",
        "satisfaction",
        "checklist.equipment",
        "checklist.wifi",
        "needs.1",
        "feedback",
        "problems.0.category",
        "problems.0.severity",
        "problems.0.description",
        "issue_confirmed",
    }
    assert errors["satisfaction"] == "required when the outcome is completed"


def test_channel_and_outcome_are_required() -> None:
    errors = field_errors(queued(), log(channel=..., outcome=..., satisfaction=...))

    assert set(errors) == {"channel", "outcome"}
    assert errors["outcome"].startswith("required: one of completed, unreachable")


def test_an_unknown_outcome_is_one_error_not_a_cascade_of_completion_rules() -> None:
    errors = field_errors(
        queued(), log(outcome="done", satisfaction=5, checklist={"audio_video": 4})
    )

    assert set(errors) == {"outcome"}


@pytest.mark.parametrize("score", [0, 6, -1])
def test_satisfaction_outside_one_to_five_is_refused(score: int) -> None:
    assert set(field_errors(queued(), log(satisfaction=score))) == {"satisfaction"}


@pytest.mark.parametrize("score", [1, 5])
def test_satisfaction_at_the_ends_of_the_scale_is_accepted(score: int) -> None:
    assert logged(queued(), log(satisfaction=score)).satisfaction == score


@pytest.mark.parametrize("outcome", ["unreachable", "declined", "rescheduled"])
def test_scores_are_refused_when_the_visit_was_not_completed(outcome: str) -> None:
    # A rescheduling names its time (4 June, the day after the log); the scores are the point.
    when = {"rescheduled_to": "2026-06-04T10:00:00+08:00"} if outcome == "rescheduled" else {}
    errors = field_errors(
        queued(), log(outcome=outcome, satisfaction=2, checklist={"equipment": 2}, **when)
    )

    assert errors == {
        "satisfaction": "only with the outcome completed",
        "checklist": "only with the outcome completed",
    }


def test_problems_and_needs_may_be_reported_when_the_customer_declines() -> None:
    event = logged(
        queued(),
        log(
            outcome="declined",
            satisfaction=...,
            needs=["maintenance_plan"],
            problems=[
                {"category": "complaint", "severity": "general", "description": "too many calls"}
            ],
        ),
    )

    assert event.needs == ["maintenance_plan"]
    assert event.problems is not None and event.problems[0].category == "complaint"


def test_a_problem_missing_every_field_names_each_missing_field() -> None:
    errors = field_errors(queued(), log(problems=[{}]))

    assert set(errors) == {"problems.0.category", "problems.0.severity", "problems.0.description"}


def test_the_checklist_takes_only_the_six_items() -> None:
    every_item = {
        "equipment": 5,
        "audio_video": 4,
        "smart_control": 3,
        "acoustics": 2,
        "response_speed": 1,
        "staff_attitude": 5,
    }

    assert logged(queued(), log(checklist=every_item)).checklist is not None
    assert set(field_errors(queued(), log(checklist={"price": 5}))) == {"checklist.price"}


def test_issue_confirmed_is_refused_on_a_visit_that_follows_up_no_issue() -> None:
    errors = field_errors(queued(), log(issue_confirmed=False))

    assert errors == {"issue_confirmed": "only on an issue_follow_up visit"}


def test_a_completed_issue_follow_up_must_say_whether_the_fix_is_confirmed() -> None:
    errors = field_errors(follow_up_of_issue(), log())

    assert set(errors) == {"issue_confirmed"}


def test_a_completed_issue_follow_up_carries_the_confirmation_and_the_issue_id() -> None:
    event = logged(follow_up_of_issue(), log(issue_confirmed=False))

    assert event.issue_confirmed is False
    assert event.issue_id == "I-42"


def test_an_unreachable_customer_confirms_no_fix() -> None:
    errors = field_errors(
        follow_up_of_issue(), log(outcome="unreachable", satisfaction=..., issue_confirmed=True)
    )

    assert errors == {"issue_confirmed": "only with the outcome completed"}


def test_an_unreachable_issue_follow_up_needs_no_confirmation() -> None:
    event = logged(follow_up_of_issue(), log(outcome="unreachable", satisfaction=...))

    assert event.issue_confirmed is None and event.issue_id == "I-42"


def test_the_command_refuses_wrong_json_types_and_unknown_fields_before_the_rules_run() -> None:
    with pytest.raises(ValidationError):
        LogVisit.model_validate({"channel": "phone", "outcome": "completed", "satisfaction": "5"})
    with pytest.raises(ValidationError):
        LogVisit.model_validate({"channel": "phone", "outcome": "completed", "satisfation": 5})


# Who may log, and when.


def test_an_unknown_visit_is_not_found() -> None:
    assert rejected(None, log()).kind == RejectionKind.NOT_FOUND


def test_a_visit_known_only_from_a_log_ahead_of_its_visit_due_is_not_found() -> None:
    only_logged = evolve(None, logged(queued(), log(outcome="unreachable", satisfaction=...)))

    assert rejected(only_logged, log()).kind == RejectionKind.NOT_FOUND


def test_an_agent_may_not_log_another_agents_visit() -> None:
    assert rejected(queued(agent_id="A-7"), log(), acting_agent_id="A-8").kind == (
        RejectionKind.FORBIDDEN
    )


def test_an_agent_may_not_log_an_unassigned_visit() -> None:
    assert rejected(queued(agent_id=None), log(), acting_agent_id="A-7").kind == (
        RejectionKind.FORBIDDEN
    )


def test_an_agent_may_not_log_under_another_agents_id() -> None:
    assert rejected(queued(), log(agent_id="A-8"), acting_agent_id="A-7").kind == (
        RejectionKind.FORBIDDEN
    )


def test_an_account_manager_logs_the_visits_assigned_to_them() -> None:
    visit = assign_account_manager(queued(agent_id=None), "AM-3")

    assert logged(visit, log(), acting_agent_id="AM-3").agent_id == "AM-3"


def test_a_supervisor_logging_without_an_agent_logs_in_the_assignees_name() -> None:
    assert logged(queued(), log(), acting_agent_id=None).agent_id == "A-7"


def test_a_supervisor_may_log_in_any_agents_name() -> None:
    assert logged(queued(), log(agent_id="A-8"), acting_agent_id=None).agent_id == "A-8"


def test_a_supervisor_must_name_the_agent_of_an_unassigned_visit() -> None:
    rejection = rejected(queued(agent_id=None), log(), acting_agent_id=None)

    assert rejection.errors == (
        FieldError("agent_id", "required: the visit is assigned to nobody"),
    )


def test_a_supervisor_naming_a_blank_agent_is_told_the_agent_id_is_invalid() -> None:
    rejection = rejected(queued(), log(agent_id=" "), acting_agent_id=None)

    assert rejection.kind == RejectionKind.INVALID
    assert [e.field for e in rejection.errors] == ["agent_id"]


def test_a_log_on_an_already_completed_visit_is_refused() -> None:
    done = evolve(queued(), logged(queued(), log()))

    refused = rejected(done, log(outcome="unreachable", satisfaction=...))
    assert (refused.kind, refused.reason) == (RejectionKind.CONFLICT, ALREADY_COMPLETED)


def test_a_forbidden_log_is_refused_as_forbidden_before_its_fields_are_judged() -> None:
    assert rejected(queued(), log(channel="fax"), acting_agent_id="A-8").kind == (
        RejectionKind.FORBIDDEN
    )


def test_invalid_input_on_a_completed_visit_is_reported_as_invalid_input() -> None:
    done = evolve(queued(), logged(queued(), log()))

    assert rejected(done, log(channel="fax")).kind == RejectionKind.INVALID
