"""A visit's life (SPEC §2, §3): fold VisitDue, VisitLogged, VisitSpotChecked into one state.

due → done (a completed log); due → missed (its deadline passes on the clock); missed → done
(a late log); done → due (a `not_verified` spot check takes the completion away). No I/O and
no clock: every rule takes `now` or reads the time carried by the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from followup.events import VisitDue, VisitLogged, VisitSpotChecked


class VisitStatus(StrEnum):
    DUE = "due"
    MISSED = "missed"
    DONE = "done"


@dataclass(frozen=True)
class VisitMissed:
    """The deadline passed without a completed log: an internal fact, never published."""

    visit_id: str
    missed_at: datetime


VisitEvent: TypeAlias = VisitDue | VisitLogged | VisitSpotChecked | VisitMissed


@dataclass(frozen=True)
class Visit:
    """One visit in the agents' queue, as its events have made it."""

    visit_id: str
    customer_id: str
    status: VisitStatus
    # What scheduling asked for. None only while a log has been folded before its VisitDue
    # (the two come from different topics, so a rebuild may see them in either order).
    due: VisitDue | None = None
    # A customer fact, not an event of this visit: it assigns visits whose VisitDue names nobody.
    account_manager_id: str | None = None
    logs: tuple[VisitLogged, ...] = ()
    completion: VisitLogged | None = None
    spot_check: VisitSpotChecked | None = None

    @property
    def assigned_agent_id(self) -> str | None:
        """The agent the VisitDue names, else the customer's account manager, else nobody."""
        named = self.due.agent_id if self.due is not None else None
        return named or self.account_manager_id

    @property
    def deadline(self) -> datetime | None:
        """The deadline in force, once the VisitDue is known."""
        return self.due.deadline if self.due is not None else None

    @property
    def completed_late(self) -> bool:
        """Completed, but after its deadline."""
        return (
            self.completion is not None
            and self.deadline is not None
            and self.completion.logged_at > self.deadline
        )

    @property
    def failed_spot_check(self) -> bool:
        """A supervisor could not verify that the visit happened."""
        return self.spot_check is not None and self.spot_check.result == "not_verified"

    @property
    def completed_on_time(self) -> bool:
        """Completed by its deadline and never failed a spot check (SPEC §5 on-time rate)."""
        # A failed spot check means the on-time completion was never real; a later re-visit
        # is remedial and must not earn the visit back its on-time credit.
        return (
            self.completion is not None
            and self.deadline is not None
            and not self.completed_late
            and not self.failed_spot_check
        )

    @property
    def unsuccessful_attempts(self) -> tuple[VisitLogged, ...]:
        """Logs that reached nobody or did not complete the visit (unreachable, declined, …)."""
        return tuple(log for log in self.logs if log.outcome != "completed")


def evolve(visit: Visit | None, event: VisitEvent) -> Visit | None:
    """The visit after one more event; never reads the clock, tolerates any order."""
    if isinstance(event, VisitDue):
        return receive_visit_due(visit, event)
    if isinstance(event, VisitLogged):
        return record_visit_log(visit, event)
    if isinstance(event, VisitSpotChecked):
        return record_spot_check(visit, event) if visit is not None else None
    return record_missed(visit, event) if visit is not None else None


def receive_visit_due(visit: Visit | None, due: VisitDue) -> Visit:
    """A VisitDue queues the visit; repeats, stale attempts and done visits change nothing."""
    if visit is None:
        return Visit(
            visit_id=due.visit_id, customer_id=due.customer_id, status=VisitStatus.DUE, due=due
        )
    if visit.due is None:
        # The log came first (disorder across topics): learn the plan, keep the status it earned.
        return replace(visit, due=due)
    if visit.status == VisitStatus.DONE or due.attempt <= visit.due.attempt:
        return visit
    # A later attempt (a retry after `unreachable`) brings a new due time and deadline.
    return replace(visit, due=due, status=VisitStatus.DUE)


def record_visit_log(visit: Visit | None, log: VisitLogged) -> Visit:
    """Every log is kept as an attempt; the first completed one completes the visit."""
    if visit is None:
        visit = Visit(visit_id=log.visit_id, customer_id=log.customer_id, status=VisitStatus.DUE)
    if log in visit.logs:
        return visit  # a redelivery of a log already folded
    logged = replace(visit, logs=(*visit.logs, log))
    if log.outcome != "completed" or visit.completion is not None:
        # The command rejects a log on a completed visit; a race that got one through anyway
        # stays in the history without moving the completion already counted.
        return logged
    return replace(logged, completion=log, status=VisitStatus.DONE)


def record_spot_check(visit: Visit, check: VisitSpotChecked) -> Visit:
    """A check is kept once; `not_verified` takes the completion away and the visit is due again."""
    if visit.spot_check is not None:
        return visit
    if check.result == "verified":
        return replace(visit, spot_check=check)
    # Due, not missed, even past the deadline: the clock sweep (decide_missed) owns that move.
    return replace(visit, spot_check=check, completion=None, status=VisitStatus.DUE)


def record_missed(visit: Visit, missed: VisitMissed) -> Visit:
    """A due visit whose deadline passed is missed; it stays open for a late log."""
    return replace(visit, status=VisitStatus.MISSED) if visit.status == VisitStatus.DUE else visit


def decide_missed(visit: Visit, now: datetime) -> VisitMissed | None:
    """Missed once `now` is past the deadline of a visit still due (the deadline is on time)."""
    deadline = visit.deadline
    if visit.status != VisitStatus.DUE or deadline is None or now <= deadline:
        return None
    # Missed at the deadline, not at `now`: a replay with a later tick yields the same fact.
    return VisitMissed(visit_id=visit.visit_id, missed_at=deadline)


def mark_missed_visits(visits: Iterable[Visit], now: datetime) -> list[VisitMissed]:
    """The visits that `now` has made missed."""
    return [m for v in visits if (m := decide_missed(v, now)) is not None]


def assign_account_manager(visit: Visit, account_manager_id: str | None) -> Visit:
    """Remembers the customer's account manager; it takes visits whose VisitDue names nobody."""
    return replace(visit, account_manager_id=account_manager_id)


class RejectionKind(StrEnum):
    """Why a command was refused; the API answers 404, 403, 422, 409, 409, 409."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    ALREADY_COMPLETED = "already_completed"
    NOT_COMPLETED = "not_completed"
    ALREADY_CHECKED = "already_checked"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a dotted path into the request body (`problems.0.category`)."""

    field: str
    message: str


@dataclass(frozen=True)
class Rejection:
    """A refused command, with every field error when the input was invalid."""

    kind: RejectionKind
    detail: str
    errors: tuple[FieldError, ...] = ()
