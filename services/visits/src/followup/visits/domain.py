"""The visits service's pure domain (SPEC §3): state, rules and decisions. No I/O, no clock.

Split by concept: the visit's life (`domain_lifecycle`), logging a contact
(`domain_log_visit`) and spot checks (`domain_spot_check`); import from here.
"""

from __future__ import annotations

from followup.visits.domain_lifecycle import (
    FieldError,
    Rejection,
    RejectionKind,
    Visit,
    VisitEvent,
    VisitMissed,
    VisitStatus,
    assign_account_manager,
    deadline_move_in_force,
    decide_missed,
    due_in_force,
    evolve,
    mark_missed_visits,
    missed_event_id,
    receive_deadline_move,
    receive_visit_due,
    record_missed,
    record_spot_check,
    record_visit_log,
)
from followup.visits.domain_log_visit import (
    DESCRIPTION_MAX_CHARS,
    FEEDBACK_MAX_CHARS,
    MAX_PROBLEMS,
    LogVisit,
    ReportedProblem,
    decide_log_visit,
    log_event_id,
    problem_id_for,
    validate_log_visit,
)
from followup.visits.domain_spot_check import (
    NOTE_MAX_CHARS,
    SAMPLE_SIZE,
    completed_by_agent_in_month,
    decide_spot_check,
    month_bounds,
    sample_for_spot_check,
    validate_spot_check,
)

__all__ = [
    "DESCRIPTION_MAX_CHARS",
    "FEEDBACK_MAX_CHARS",
    "MAX_PROBLEMS",
    "NOTE_MAX_CHARS",
    "SAMPLE_SIZE",
    "FieldError",
    "LogVisit",
    "Rejection",
    "RejectionKind",
    "ReportedProblem",
    "Visit",
    "VisitEvent",
    "VisitMissed",
    "VisitStatus",
    "assign_account_manager",
    "completed_by_agent_in_month",
    "deadline_move_in_force",
    "decide_log_visit",
    "decide_missed",
    "decide_spot_check",
    "due_in_force",
    "evolve",
    "log_event_id",
    "mark_missed_visits",
    "missed_event_id",
    "month_bounds",
    "problem_id_for",
    "receive_deadline_move",
    "receive_visit_due",
    "record_missed",
    "record_spot_check",
    "record_visit_log",
    "sample_for_spot_check",
    "validate_log_visit",
    "validate_spot_check",
]
