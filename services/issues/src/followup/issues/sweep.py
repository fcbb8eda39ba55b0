"""The clock's work on issues (SPEC §4): each tick moves open deadlines onto newly loaded
official calendar years, schedules issues stored before the breach schedule existed, and
records every breach once, escalating it to the department's manager."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import structlog

from followup.core.outbox import outbox_row
from followup.core.subscription import Tx
from followup.events import make_event
from followup.issues.domain import clocks
from followup.issues.domain.model import Breach
from followup.issues.projections import history, ledger, schedule
from followup.issues.recording import SOURCE, Recorder, event_id_of

log = structlog.get_logger()

# Up to this many breaches in one sweep get one log line each; more are grouped per manager.
ESCALATION_LINES_MAX = 20
# Breaches recorded per statement: small enough that naming the next slice overlaps storing
# this one, large enough that round trips stay few.
RECORD_SLICE = 1000


class BreachSweep:
    """The tick handler over one recorder, the escalation map and what counts a breach."""

    def __init__(
        self,
        recorder: Recorder,
        managers: Mapping[str, str],
        on_breach: Callable[[Breach], None] | None = None,
    ) -> None:
        self.recorder = recorder
        self.calendar = recorder.calendar
        self.topic_prefix = recorder.topic_prefix
        self.managers = managers
        self.on_breach = on_breach
        # The official years this process has made sure deadlines are counted on.
        self._calendar_checked: list[int] | None = None
        # Whether every stored issue has its breach schedule (migration 0004's backfill done).
        self._schedule_complete = False

    async def on_clock_tick(self, tx: Tx, now: datetime) -> None:
        """The clock moved: deadlines follow new official years; breaches are recorded once."""
        await self.recompute_deadlines_for_new_official_years(tx, now)
        await self.schedule_issues_stored_before_the_schedule(tx, now)
        await self.record_breaches(tx, now)

    async def recompute_deadlines_for_new_official_years(self, tx: Tx, now: datetime) -> None:
        """Official data for a year loaded since the last check moves open issues' deadlines.

        Finished clocks and recorded breaches keep theirs (domain.clocks.recompute_deadlines). The
        first run on a database only remembers the years: its issues were counted on them.
        """
        official = sorted(self.calendar.years_official())
        if self._calendar_checked == official:
            return
        known = await ledger.official_years_counted(tx.conn)
        new_years = sorted(set(official) - set(known or ()))
        if known is not None and new_years:
            ids = await ledger.open_issues_that_may_count_days_in(tx.conn, min(new_years))
            issues = await history.load_issues(tx.conn, ids, lock=True)
            moved = [
                (issue, event)
                for issue in issues
                if (event := clocks.recompute_deadlines(issue, self.calendar, now)) is not None
            ]
            await self.recorder.record_many(tx, moved, now)
            log.info(
                "official calendar years loaded; open deadlines recomputed",
                years=new_years,
                open_issues=len(issues),
                moved=len(moved),
            )
        if known != official:
            await ledger.remember_official_years(tx.conn, official)
        self._calendar_checked = official

    async def record_breaches(self, tx: Tx, now: datetime) -> None:
        """The clock moved: each clock past its deadline breaches once and is escalated."""
        # Escalated once the whole sweep is decided, as one set (grouped when large). Before the
        # tick's commit: a commit that fails is retried and escalates again, at least once.
        self._escalate(await self._sweep(tx, now))

    async def _sweep(self, tx: Tx, now: datetime) -> list[Breach]:
        # From the breach schedule alone (clocks.breaches_due over its narrow rows): no issue's
        # history is read or folded; the projections keep the schedule as the fold has it.
        escalated: list[Breach] = []
        while True:
            ids = await schedule.issues_past_breach_time(tx.conn, now, schedule.SWEEP_BATCH)
            if not ids:
                return escalated
            read = await schedule.read_scheduled_clocks(tx.conn, ids, due_before=now, lock=True)
            if not await self._record_breaches(tx, now, read, escalated):
                # A command moved them meanwhile; reading them again would find the same.
                return escalated

    async def _record_breaches(
        self,
        tx: Tx,
        now: datetime,
        read: schedule.ScheduledClocksRead,
        escalated: list[Breach],
    ) -> int:
        """Decides and records the breaches slice by slice: the next slice is decided, named
        and encoded while the database stores this one (Python and PostgreSQL each have a
        core of their own). Returns how many breaches were due."""
        storing: asyncio.Future[list[bool]] | None = None
        stored: list[Breach] = []
        due = 0
        try:
            for scheduled in read.slices(RECORD_SLICE):
                part = clocks.breaches_due(scheduled, now, self.managers)
                if not part:
                    continue
                due += len(part)
                named = [(event_id_of(b), b) for b in part]
                # Outbox rows for all; the statement writes those of the new events only.
                rows = [
                    outbox_row(
                        make_event(b, id=event_id, source=SOURCE, subject=b.customer_id, time=now),
                        topic_prefix=self.topic_prefix,
                    )
                    for event_id, b in named
                ]
                if storing is not None:
                    new = await storing
                    escalated.extend(b for b, n in zip(stored, new, strict=True) if n)
                storing = await schedule.begin_record_breaches(tx.conn, named, rows)
                stored = part
            if storing is not None:
                new = await storing
                escalated.extend(b for b, n in zip(stored, new, strict=True) if n)
        except BaseException:
            # The statement in flight holds the connection: the rollback must wait for it.
            if storing is not None and not storing.done():
                await asyncio.wait([storing])
            raise
        return due

    async def schedule_issues_stored_before_the_schedule(self, tx: Tx, now: datetime) -> None:
        """Issues stored before the breach schedule existed are folded once to schedule them."""
        if self._schedule_complete:
            return
        ids = await schedule.issues_to_schedule(tx.conn, schedule.BACKFILL_BATCH)
        if not ids:
            # Only a tick that found none left says so: one that filled some may roll back.
            self._schedule_complete = True
            return
        while ids:
            issues = await history.load_issues(tx.conn, ids, lock=True)
            await ledger.save_issue_rows(tx.conn, issues, now, self.calendar)
            await schedule.forget_to_schedule(tx.conn, ids)
            log.info("breach schedule filled for issues stored before it", issues=len(ids))
            ids = await schedule.issues_to_schedule(tx.conn, schedule.BACKFILL_BATCH)

    def _escalate(self, breaches: Sequence[Breach]) -> None:
        """Escalation: an error line naming the manager to page, and a metric to alert on.

        A sweep recording many breaches at once (a backlog, a clock moved far) logs one line
        per manager, clock and department with the count and the first issue ids, rather
        than an alert storm; each breach is still its own IssueSlaBreached event.
        """
        for breach in breaches:
            if self.on_breach is not None:
                self.on_breach(breach)
        if len(breaches) <= ESCALATION_LINES_MAX:
            for breach in breaches:
                log.error(
                    "sla breached; escalated to the department manager",
                    issue_id=breach.issue_id,
                    clock=breach.clock,
                    department=breach.department,
                    owner_id=breach.owner_id,
                    escalate_to=breach.escalate_to,
                    deadline=breach.deadline.isoformat(),
                )
            return
        groups: dict[tuple[str | None, str, str], list[str]] = {}
        for breach in breaches:
            key = (breach.escalate_to, breach.clock, breach.department)
            groups.setdefault(key, []).append(breach.issue_id)
        for (manager, clock, department), issue_ids in sorted(
            groups.items(), key=lambda g: (g[0][0] or "", g[0][1], g[0][2])
        ):
            log.error(
                "sla breaches; escalated to the department manager",
                escalate_to=manager,
                clock=clock,
                department=department,
                breaches=len(issue_ids),
                issue_ids=issue_ids[:ESCALATION_LINES_MAX],
            )
