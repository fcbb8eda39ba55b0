"""SLA clocks (SPEC §4): deadlines in force, breaches, and recalculation on a new calendar year.

Rules, as the code applies them:
- handover ends when a named owner first takes the issue (the first IssueAssigned);
  reassignments do not restart it.
- first response ends at the first contact with the customer (IssueResponded), or at the
  first resolution if that comes first (SPEC §10). Issues raised before contacts were recorded
  (IssueRaised without `first_response`) keep their rule: it ended at the first assignment.
- resolution runs from raising to the resolution, then from each reopen to the next
  resolution (a round). Paused working time moves the round's deadline later by exactly that
  time (SPEC §10): the moved deadline is an instant, not rounded to the end of its day, and
  the move skips non-working days (working time is the whole of each working day). Pauses are
  merged first, so time covered by two pauses counts once. A pause that starts after the
  deadline in force has passed moves nothing: the clock had already run out.
- met: ended by its deadline (23:59:59 included); breached: ran past it, ended or not.
- every clock breaches at most once: the resolution clock's one breach is that of the first
  round that ran out. A breach happens at the deadline, and names the owner and department in
  charge at that instant, so a late sweep or a later reassignment does not move the credit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from followup.calendar import (
    BusinessCalendar,
    Deadline,
    add_working_seconds,
    end_of_working_days,
    merge_intervals,
    paused_working_seconds,
    working_seconds_between,
)
from followup.issues.domain.model import (
    DEFAULT_POLICY,
    Breach,
    Clock,
    DeadlinesRecomputed,
    Issue,
    ResolutionRound,
    SlaPolicy,
)


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


@dataclass(frozen=True)
class ResolutionInForce:
    """A resolution round's deadline after pauses, and the paused working time that moved it."""

    deadline: Deadline
    paused_seconds: int


@dataclass(frozen=True)
class ClockSpan:
    """One run of one clock: its deadline in force, when it ended, whether it is paused."""

    clock: Clock
    round: int
    deadline: Deadline
    ended_at: datetime | None
    paused: bool = False

    def state(self, now: datetime) -> ClockState:
        """Met, breached, paused or running at `now`."""
        if self.ended_at is not None:
            return ClockState.MET if self.ended_at <= self.deadline.at else ClockState.BREACHED
        if now > self.deadline.at:
            return ClockState.BREACHED
        return ClockState.PAUSED if self.paused else ClockState.RUNNING


def counted_provisional(
    start: datetime, deadline: datetime, tz: str, cal: BusinessCalendar
) -> bool:
    """Whether a working-day deadline from `start` was counted over a provisional day."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).date() + timedelta(days=1)
    return cal.any_provisional(first, deadline.astimezone(zone).date())


def resolution_in_force(
    issue: Issue, round_: ResolutionRound, until: datetime, cal: BusinessCalendar
) -> ResolutionInForce:
    """The round's deadline moved later by the working time paused up to `until`."""
    tz = issue.timezone
    base = Deadline(
        round_.deadline, counted_provisional(round_.started_at, round_.deadline, tz, cal)
    )
    intervals = merge_intervals(
        (p.started_at, min(p.ended_at or until, until))
        for p in issue.pauses_of(round_.number)
        if p.started_at < until
    )
    counted: list[tuple[datetime, datetime | None]] = []
    deadline = base
    for start, end in intervals:
        if start > deadline.at:
            break  # the clock ran out before this pause: it cannot un-breach it
        counted.append((start, end))
        deadline = moved_by_pauses(base, counted, until, tz, cal)
    seconds = paused_working_seconds(counted, until, tz, cal)
    return ResolutionInForce(deadline, round(seconds))


def moved_by_pauses(
    base: Deadline,
    pauses: Sequence[tuple[datetime, datetime | None]],
    until: datetime,
    tz: str,
    cal: BusinessCalendar,
) -> Deadline:
    """`base` moved later by exactly the working time paused up to `until`: an instant."""
    seconds = paused_working_seconds(pauses, until, tz, cal)
    if seconds <= 0:
        return base
    zone = ZoneInfo(tz)
    moved = add_working_seconds(base.at, seconds, tz, cal)
    # The paused seconds were judged on the pause days, the move on the days it crossed.
    first = min(start for start, _ in pauses).astimezone(zone).date()
    provisional = cal.any_provisional(first, moved.astimezone(zone).date())
    return Deadline(moved, base.provisional or provisional)


def clock_spans(issue: Issue, now: datetime, cal: BusinessCalendar) -> list[ClockSpan]:
    """Every run of every clock: handover, first response, then each resolution round."""
    tz = issue.timezone
    taken = issue.first_assigned_at
    handover = Deadline(
        issue.handover_by, counted_provisional(issue.raised.raised_at, issue.handover_by, tz, cal)
    )
    spans = [
        ClockSpan(Clock.HANDOVER, 1, handover, taken),
        # Hour-based: wall-clock time, no calendar involved.
        ClockSpan(
            Clock.FIRST_RESPONSE,
            1,
            Deadline(issue.respond_by, False),
            issue.first_response_ended_at,
        ),
    ]
    for round_ in issue.rounds:
        resolved = round_.resolved
        if resolved is not None:
            # A finished round keeps the deadline recorded when it was resolved.
            prov = counted_provisional(round_.started_at, resolved.resolve_by, tz, cal)
            deadline, ended = Deadline(resolved.resolve_by, prov), resolved.resolved_at
            spans.append(ClockSpan(Clock.RESOLUTION, round_.number, deadline, ended))
        else:
            in_force = resolution_in_force(issue, round_, now, cal)
            spans.append(
                ClockSpan(Clock.RESOLUTION, round_.number, in_force.deadline, None, issue.is_paused)
            )
    return spans


def detect_breaches(
    issue: Issue, now: datetime, *, cal: BusinessCalendar, managers: Mapping[str, str]
) -> list[Breach]:
    """The breaches `now` reveals that are not recorded yet, each with its escalation target."""
    return sweep_issue(issue, now, cal=cal, managers=managers).breaches


@dataclass(frozen=True)
class Sweep:
    """What a clock sweep finds on one issue: breaches to record, and when to look again."""

    breaches: list[Breach]
    # The earliest deadline still able to breach once these are recorded (None: none can).
    next_breach_at: datetime | None


def sweep_issue(
    issue: Issue, now: datetime, *, cal: BusinessCalendar, managers: Mapping[str, str]
) -> Sweep:
    """The breaches `now` reveals and the next time to look, from one reading of the clocks."""
    # `managers` (department -> manager id) is configuration; a department missing from it
    # escalates to nobody rather than failing the sweep.
    found: list[Breach] = []
    pending: list[datetime] = []
    for span in clock_spans(issue, now, cal):
        if issue.breach_of(span.clock) is not None or any(b.clock == span.clock for b in found):
            continue
        state = span.state(now)
        if state != ClockState.BREACHED:
            if state not in (ClockState.MET, ClockState.PAUSED):
                pending.append(span.deadline.at)
            continue
        owner = issue.owner_at(span.deadline.at)
        department = owner.department if owner is not None else issue.raised.department
        found.append(
            Breach(
                issue_id=issue.issue_id,
                customer_id=issue.customer_id,
                clock=span.clock.value,
                deadline=span.deadline.at,
                department=department,
                owner_id=owner.assignee_id if owner is not None else None,
                escalate_to=managers.get(department),
                round=span.round,
            )
        )
    return Sweep(found, min(pending, default=None))


@dataclass(frozen=True, slots=True)
class ScheduledClock:
    """A clock whose breach is still to be recorded: what the sweep needs to decide and record it.

    Kept beside the issue by the projections (rewritten after each of its events), so a sweep
    reads these narrow rows rather than folding each issue's whole history.
    """

    issue_id: str
    customer_id: str
    clock: Clock
    round: int
    # The deadline in force, in the customer's zone (`timezone`).
    deadline: datetime
    # Who is in charge at the deadline: the credit a breach carries.
    department: str
    owner_id: str | None
    timezone: str


# The order sweep_issue reads the clocks in (clock_spans): breaches are recorded in it.
CLOCK_ORDER = {Clock.HANDOVER: 0, Clock.FIRST_RESPONSE: 1, Clock.RESOLUTION: 2}


def breach_schedule(issue: Issue, now: datetime, cal: BusinessCalendar) -> list[ScheduledClock]:
    """Each clock still able to breach (running, or past its deadline unrecorded) at `now`.

    A met clock, a paused one and one whose breach is recorded have no row. Only the first
    resolution round that can breach is listed: the resolution clock breaches once.
    """
    # Valid until the issue's next event (the projections rewrite it after each): with no
    # pause open, nothing but an event moves a deadline or changes who was in charge at it.
    scheduled: dict[Clock, ScheduledClock] = {}
    for span in clock_spans(issue, now, cal):
        if span.clock in scheduled or issue.breach_of(span.clock) is not None:
            continue
        if span.state(now) in (ClockState.MET, ClockState.PAUSED):
            continue
        owner = issue.owner_at(span.deadline.at)
        scheduled[span.clock] = ScheduledClock(
            issue_id=issue.issue_id,
            customer_id=issue.customer_id,
            clock=span.clock,
            round=span.round,
            deadline=span.deadline.at,
            department=owner.department if owner is not None else issue.raised.department,
            owner_id=owner.assignee_id if owner is not None else None,
            timezone=issue.timezone,
        )
    return list(scheduled.values())


def breaches_due(
    scheduled: Iterable[ScheduledClock], now: datetime, managers: Mapping[str, str]
) -> list[Breach]:
    """The breaches `now` reveals among scheduled clocks: each one past its deadline, once.

    In the order sweep_issue records them (per issue: handover, first response, resolution).
    """
    # A clock is listed once per issue (breach_schedule); a repeated row breaches once anyway.
    due: dict[tuple[str, Clock], ScheduledClock] = {}
    for row in scheduled:
        if now > row.deadline:
            due.setdefault((row.issue_id, row.clock), row)
    ordered = sorted(due.values(), key=lambda r: (r.issue_id, CLOCK_ORDER[r.clock]))
    return [
        Breach(
            issue_id=row.issue_id,
            customer_id=row.customer_id,
            clock=row.clock.value,
            deadline=row.deadline,
            department=row.department,
            owner_id=row.owner_id,
            escalate_to=managers.get(row.department),
            round=row.round,
        )
        for row in ordered
    ]


def next_breach_at(issue: Issue, now: datetime, cal: BusinessCalendar) -> datetime | None:
    """The earliest deadline whose breach is still to be recorded; None when none can breach."""
    # It changes with every event of the issue (compute it again after each); a paused clock
    # cannot breach.
    return min((s.deadline for s in breach_schedule(issue, now, cal)), default=None)


def recompute_deadlines(
    issue: Issue,
    cal: BusinessCalendar,
    now: datetime,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> DeadlinesRecomputed | None:
    """New deadlines of the clocks still open, counted on `cal`; None when nothing moves."""
    # Finished clocks keep their deadlines and results, and so does a clock whose breach is
    # recorded: it has been escalated and cannot be taken back. First response counts
    # wall-clock hours, so no calendar moves it.
    tz = issue.timezone
    handover_by = None
    if issue.first_assigned_at is None and issue.breach_of(Clock.HANDOVER) is None:
        new = end_of_working_days(issue.raised.raised_at, policy.handover_working_days, tz, cal)
        handover_by = new.at if new.at != issue.handover_by else None
    resolve_by = None
    current = issue.current_round
    breach = issue.breach_of(Clock.RESOLUTION)
    if issue.is_open and (breach is None or breach.round != current.number):
        days = policy.resolution_working_days(issue.raised.severity)
        new = end_of_working_days(current.started_at, days, tz, cal)
        resolve_by = new.at if new.at != current.deadline else None
    if handover_by is None and resolve_by is None:
        return None
    return DeadlinesRecomputed(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        recomputed_at=now,
        handover_by=handover_by,
        previous_handover_by=issue.handover_by if handover_by is not None else None,
        resolve_by=resolve_by,
        previous_resolve_by=current.deadline if resolve_by is not None else None,
        round=current.number,
    )


def signed_working_seconds(frm: datetime, to: datetime, tz: str, cal: BusinessCalendar) -> int:
    """Working seconds from `frm` to `to`; negative when `to` is earlier (overdue)."""
    if to >= frm:
        return round(working_seconds_between(frm, to, tz, cal))
    return -round(working_seconds_between(to, frm, tz, cal))
