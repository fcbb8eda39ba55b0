"""Spot checks (SPEC §3): a reproducible sample of 3 completed visits per agent and month,
re-contacted by a supervisor, and the VisitSpotChecked that records the result."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field

from followup.core.rejections import (
    FieldError,
    Rejection,
    choice_errors,
    conflict,
    id_errors,
    invalid,
    not_found,
    text_errors,
)
from followup.events import VisitSpotChecked
from followup.events.visits import SpotCheckResult
from followup.visits.domain.model import Visit

SAMPLE_SIZE = 3
NOTE_MAX_CHARS = 2000
# Visits' own names for the two conflicts of a spot check.
ALREADY_CHECKED = "already_checked"
NOT_COMPLETED = "not_completed"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class SpotCheckBody(BaseModel):
    """The body of `POST /v1/spot-checks/{visit_id}`."""

    model_config = ConfigDict(extra="forbid")

    result: Literal["verified", "not_verified"]
    note: str | None = Field(None, max_length=NOTE_MAX_CHARS)


def month_bounds(month: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The first instants of a `YYYY-MM` month and of the next, in `tz`; ValueError if malformed."""
    year, number = _parse_month(month)
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, end


def _parse_month(month: str) -> tuple[int, int]:
    match = _MONTH.fullmatch(month)
    if match is None:
        raise ValueError(f"month {month!r} is not YYYY-MM")
    return int(match[1]), int(match[2])


def completed_by_agent_in_month(visit: Visit, agent_id: str, month: str, tz: tzinfo) -> bool:
    """The agent logged a completed contact for this visit in that month (local to `tz`)."""
    start, end = month_bounds(month, tz)
    # Judged on the log history, not the current completion: a visit that failed its check
    # stays in its month's sample instead of making room for another.
    return any(
        log.outcome == "completed" and log.agent_id == agent_id and start <= log.logged_at < end
        for log in visit.logs
    )


def sample_for_spot_check(visit_ids: Iterable[str], agent_id: str, month: str) -> list[str]:
    """min(3, n) of the agent's completed visits in the month, the same on every call."""
    _parse_month(month)

    # Each visit draws a rank from sha256(agent|month|visit) and the lowest ranks are taken:
    # a random sample seeded by agent and month that ignores input order and duplicates,
    # does not depend on Python's `random` algorithm, and keeps its picks when one more
    # visit of the month turns up (at most one pick is displaced).
    def rank(visit_id: str) -> bytes:
        return hashlib.sha256(f"{agent_id}|{month}|{visit_id}".encode()).digest()

    return sorted(sorted(set(visit_ids), key=rank)[:SAMPLE_SIZE])


def decide_spot_check(
    visit: Visit | None, supervisor_id: str, result: str, note: str | None, now: datetime
) -> VisitSpotChecked | Rejection:
    """The VisitSpotChecked of a supervisor's re-contact, or why not: once per completed visit."""
    if visit is None:
        return not_found("no such visit")
    errors = validate_spot_check(supervisor_id, result, note)
    if errors:
        return invalid(errors, "the spot check is invalid")
    if visit.spot_check is not None:
        return conflict("the visit was already spot-checked", reason=ALREADY_CHECKED)
    if visit.completion is None:
        return conflict("only completed visits can be spot-checked", reason=NOT_COMPLETED)
    return VisitSpotChecked(
        visit_id=visit.visit_id,
        customer_id=visit.customer_id,
        # Credit and blame go to the agent who logged the completion, not the current assignee.
        agent_id=visit.completion.agent_id,
        supervisor_id=supervisor_id,
        checked_at=now,
        result=cast(SpotCheckResult, result),  # validated above
        note=(note or "").strip() or None,
    )


def validate_spot_check(supervisor_id: str, result: str, note: str | None) -> list[FieldError]:
    """Every field error of a spot check, all at once."""
    return [
        *id_errors("supervisor_id", supervisor_id),
        *choice_errors("result", result, get_args(SpotCheckResult)),
        *text_errors("note", note, required=False, max_chars=NOTE_MAX_CHARS),
    ]
