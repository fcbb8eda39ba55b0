"""Scheduling's use cases: record the fact, re-plan the customer, publish what is due."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from followup.calendar import BusinessCalendar, add_months_clamped
from followup.core.consumer import Tx
from followup.events import (
    AnyEvent,
    CustomerDelivered,
    Event,
    IntentSigned,
    IssueResolved,
    ProjectStarted,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
    derived_id,
    make_event,
)
from followup.scheduling import domain, projections

SOURCE = "followup/scheduling"
# Due visits published per statement; the tick repeats until fewer come back.
DUE_BATCH = 10_000
# How much further than they read readers store plans (store_plans_until): a month, so the
# rolling horizon (24 months) is never passed.
READ_MARGIN = timedelta(days=30)
# Transaction advisory lock held by whoever extends stored plans by the customer (the tick,
# a reader): they lock customers in another order than id, so they take turns.
EXTENSION_LOCK = 0x5C4ED01E
log = structlog.get_logger(__name__)


# The fact events one batch handler takes together (VisitLogged stays one at a time).
FACT_TYPES = ("CustomerDelivered", "IntentSigned", "ProjectStarted", "IssueResolved")


class SchedulingHandlers:
    """Handlers over one business calendar and one policy."""

    def __init__(
        self,
        calendar: BusinessCalendar,
        default_timezone: str,
        policy: domain.Policy = domain.DEFAULT_POLICY,
    ) -> None:
        self.calendar = calendar
        self.default_timezone = default_timezone
        self.policy = policy
        # Visits stored since the tables' growth was last looked at (see _watch_table_growth).
        self._stored_since_check = 0

    async def apply_customer_facts(self, tx: Tx, events: list[Event[Any]]) -> None:
        """CustomerDelivered, IntentSigned, ProjectStarted, IssueResolved: record, re-plan.

        A whole run of the batch at once: the customers are locked and read in a few
        set-based queries, the facts folded in memory in arrival order (the same result as one
        event at a time), each customer re-planned once from all of its facts, and the plan
        changes written in a few statements. The core has already dropped events seen before,
        and commits these writes with the batch's offsets.
        """
        if not events:
            return
        conn = tx.conn
        extend_within = self.policy.extend_within
        causes: dict[str, AnyEvent] = {}
        for event in events:
            causes[event.data.customer_id] = event
        ids = sorted(causes)
        profiles, reach, new = await _lock(conn, ids)
        deliveries, issues = await _load_facts(conn, reach)
        stale = [c for c, at in reach.items() if at is not None and at < tx.now + extend_within]
        if stale:
            # The clock passed the end of these stored plans before a tick extended them:
            # extend them first, on the facts known before this batch. Visits past the old
            # end are kept whatever their deadline only for those facts; the new facts' visits
            # are then planned as any late fact's are (only deadlines still ahead).
            await self._replan(
                conn,
                tx.now,
                {c: profiles[c] for c in stale},
                reach,
                {c: dict(deliveries.get(c, {})) for c in stale},
                issues,
            )
            reach = await projections.planned_until(conn, stale) | {
                c: at for c, at in reach.items() if c not in stale
            }
        new_deliveries: list[tuple[str, str, datetime, str, str, str]] = []
        resolved: dict[str, tuple[str, str, datetime]] = {}
        for event in events:
            d = event.data
            cid = d.customer_id
            if isinstance(d, CustomerDelivered):
                profiles[cid] = domain.with_profile_fact(
                    profiles[cid],
                    tier=d.tier,
                    segment=d.segment,
                    timezone=d.timezone,
                    region=d.region,
                    account_manager_id=d.account_manager_id,
                    at=d.delivered_at,
                )
                orders = deliveries.setdefault(cid, {})
                if d.order_id not in orders:  # a known order keeps its first delivery
                    at = _as_stored(d.delivered_at)
                    orders[d.order_id] = at
                    new_deliveries.append((cid, d.order_id, at, d.product, d.tier, event.id))
            elif isinstance(d, IntentSigned):
                p = domain.with_profile_fact(
                    profiles[cid],
                    tier=d.tier,
                    segment=d.segment,
                    timezone=d.timezone,
                    region=d.region,
                    account_manager_id=None,
                    at=d.signed_at,
                )
                profiles[cid] = domain.with_intent_signed(p, _as_stored(d.signed_at))
            elif isinstance(d, ProjectStarted):
                profiles[cid] = domain.with_project_started(profiles[cid], _as_stored(d.started_at))
            elif isinstance(d, IssueResolved):
                at = _as_stored(d.resolved_at)
                known = issues.setdefault(cid, {})
                # The latest resolution of an issue asks for its follow-up visit.
                latest = max(at, known.get(d.issue_id, at))
                known[d.issue_id] = latest
                resolved[d.issue_id] = (d.issue_id, cid, latest)
        await projections.insert_deliveries(conn, new_deliveries)
        await projections.upsert_resolved_issues(conn, list(resolved.values()))
        stored = await self._replan(conn, tx.now, profiles, reach, deliveries, issues, None, new)
        # A visit already due when planned (history processed late) is published now.
        await publish_due_visits(tx, tx.now, causes=causes)
        await self._watch_table_growth(tx, stored)

    async def plan_visits_for_delivery(self, tx: Tx, event: Event[CustomerDelivered]) -> None:
        """CustomerDelivered: remember the delivery and re-plan the customer."""
        await self.apply_customer_facts(tx, [event])

    async def plan_intent_follow_ups(self, tx: Tx, event: Event[IntentSigned]) -> None:
        """IntentSigned: follow up every 10 days until the project starts."""
        await self.apply_customer_facts(tx, [event])

    async def stop_intent_follow_ups(self, tx: Tx, event: Event[ProjectStarted]) -> None:
        """ProjectStarted: no intent follow-up is due after the start."""
        await self.apply_customer_facts(tx, [event])

    async def plan_issue_follow_up(self, tx: Tx, event: Event[IssueResolved]) -> None:
        """IssueResolved: confirm the fix with the customer within 1 working day."""
        await self.apply_customer_facts(tx, [event])

    async def record_visit_outcome(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: completed closes the visit; unreachable plans the retry."""
        d = event.data
        if d.outcome == "completed":
            await projections.mark_visit_done(tx.conn, d.visit_id)
            return
        if d.outcome != "unreachable":
            return
        row = await projections.load_visit(tx.conn, d.visit_id)
        if row is None or row["status"] == "done":
            return
        facts = await projections.load_customer_facts(tx.conn, d.customer_id, self.default_timezone)
        tz = facts.timezone if facts else self.default_timezone
        retry = domain.plan_retry(
            projections.stored_visit(row), d.logged_at, tz, self.calendar, self.policy
        )
        if retry is not None:
            await projections.reschedule_visit(tx.conn, retry)
            await publish_due_visits(tx, tx.now, causation=event)

    async def replan_customer(
        self, tx: Tx, customer_id: str, causation: AnyEvent | None = None
    ) -> None:
        """Recomputes one customer's open plan from their facts and publishes what is due."""
        causes = {customer_id: causation} if causation is not None else {}
        await self.replan_customers(tx, [customer_id], causes)

    async def replan_customers(
        self,
        tx: Tx,
        customer_ids: Sequence[str],
        causes: Mapping[str, AnyEvent] | None = None,
    ) -> None:
        """Recomputes these customers' open plans from their stored facts (set-based), then
        publishes what is due."""
        if not customer_ids:
            return
        await self._replan_ids(tx.conn, tx.now, customer_ids)
        await publish_due_visits(tx, tx.now, causes=causes or {})

    async def _replan_ids(
        self,
        conn: asyncpg.Connection,
        now: datetime,
        customer_ids: Sequence[str],
        extend_to: datetime | None = None,
    ) -> int:
        """Locks, reads and re-plans these customers; returns the number of visits stored."""
        ids = sorted(set(customer_ids))
        profiles, reach, new = await _lock(conn, ids)
        deliveries, issues = await _load_facts(conn, reach)
        return await self._replan(conn, now, profiles, reach, deliveries, issues, extend_to, new)

    async def _replan(
        self,
        conn: asyncpg.Connection,
        now: datetime,
        profiles: dict[str, domain.Profile],
        reach: Mapping[str, datetime | None],
        deliveries: Mapping[str, Mapping[str, datetime]],
        issues: Mapping[str, Mapping[str, datetime]],
        extend_to: datetime | None = None,
        new: Collection[str] = (),
    ) -> int:
        """Plans every locked (or `new`) customer in memory up to their stored horizon (or
        `extend_to`, if further) and writes what changed; returns the number of visits stored.

        A stored plan never gets shorter: `reach` (how far each one reached) is a floor.
        """
        ids = list(profiles)
        # Only a customer with a stored plan end has stored visits (see _load_facts).
        planned = [c for c in ids if reach.get(c) is not None]
        stored = await projections.load_plans(conn, planned) if planned else {}
        update: list[domain.PlannedVisit] = []
        delete: list[str] = []
        until: dict[str, datetime | None] = {}
        policy = self.policy

        stored_count = 0

        async def planned_visits() -> AsyncIterator[Sequence[domain.PlannedVisit]]:
            # Consumed by the COPY as it goes: PostgreSQL stores while the rest is planned.
            # One customer's new visits at a time.
            nonlocal stored_count
            for cid in ids:
                facts = domain.customer_facts(
                    cid,
                    profiles[cid],
                    deliveries.get(cid, {}).items(),
                    issues.get(cid, {}).items(),
                    self.default_timezone,
                )
                mine = stored.get(cid, [])
                before = reach.get(cid)
                horizon = domain.stored_horizon(facts, now, policy)
                if horizon is not None:
                    if before is not None and before > horizon:
                        horizon = before
                    if extend_to is not None and extend_to > horizon:
                        horizon = extend_to
                until[cid] = horizon
                if horizon is None:  # no fact that plans anything yet
                    continue
                fixed, planned = domain.plan_components(mine)
                visits = domain.plan_customer(
                    facts,
                    self.calendar,
                    now,
                    fixed,
                    planned,
                    policy,
                    until=horizon,
                    stored_until=before,
                )
                if not mine:  # a new customer (most of them): the whole plan is new
                    stored_count += len(visits)
                    yield visits
                    continue
                changes = domain.reconcile(mine, visits)
                update.extend(changes.update)
                delete.extend(changes.delete)
                stored_count += len(changes.insert)
                yield changes.insert

        await projections.insert_visits(conn, planned_visits(), now)
        await projections.update_visits(conn, update)
        await projections.delete_visits(conn, delete)
        await projections.save_customers(conn, profiles, until, now, new)
        return stored_count

    async def extend_plans(self, conn: asyncpg.Connection, now: datetime) -> int:
        """Stores the next part of every plan that ends less than `extend_within` ahead (up to
        `extend_ahead` past now); returns the number of customers extended.

        All of them, 500 at a time, before the tick publishes anything: after a jump of the
        clock, visits past a plan's old end are due at once and must be stored (whatever their
        deadline) to be published with the rest, in due order.
        """
        await conn.execute("SELECT pg_advisory_xact_lock($1)", EXTENSION_LOCK)
        policy = self.policy
        extended = 0
        # Further than a fact stores: each extension costs a whole re-plan of the customer,
        # whatever it adds, so it should come seldom.
        extend_to = now + policy.extend_ahead
        while ids := await projections.customers_stored_short(conn, now + policy.extend_within):
            await self._replan_ids(conn, now, ids, extend_to=extend_to)
            extended += len(ids)
        return extended

    def read_horizon(self, now: datetime) -> datetime:
        """How far ahead readers see the plan: the rolling horizon, less the month it may
        lag (as a stored plan is extended when it falls below it). Every customer's rolling
        horizon reaches at least this far."""
        tz = ZoneInfo(self.default_timezone)
        return add_months_clamped(now, self.policy.horizon_months - 1, tz)

    async def store_plans_until(
        self, conn: asyncpg.Connection, now: datetime, to: datetime, customer_id: str | None = None
    ) -> int:
        """Readers' side of the stored horizon: stores every plan (or one customer's) that
        ends before `to` (at most read_horizon) up to READ_MARGIN past it, so that a read of
        the stored visits due by `to` is the whole plan; returns the number of customers
        extended.

        The margin: the read horizon moves with the clock, and readers asking for all of it
        would otherwise re-plan every customer at each read. Nothing is published: the tick
        publishes what is due. One transaction per 500 customers, each holding the extension
        lock, so a tick never waits on a reader's customers while holding some the reader
        waits on.
        """
        to = min(to, self.read_horizon(now))
        extend_to = to + READ_MARGIN
        extended = 0
        while True:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", EXTENSION_LOCK)
                if customer_id is None:
                    ids = await projections.customers_stored_short(conn, to)
                else:
                    known, reach = await projections.stored_until(conn, customer_id)
                    ids = [customer_id] if known and reach is not None and reach < to else []
                if not ids:
                    return extended
                await self._replan_ids(conn, now, ids, extend_to=extend_to)
            extended += len(ids)

    async def _watch_table_growth(self, tx: Tx, stored: int) -> None:
        """Every 5,000 stored visits, refresh the statistics of tables that have doubled.

        Without it a fresh database ingesting fast (a replay's new tables, a first import)
        plans every batch's reads as scans of whole tables for a minute or more.
        """
        self._stored_since_check += stored
        if self._stored_since_check < 5_000:
            return
        self._stored_since_check = 0
        grown = await projections.analyze_grown_tables(tx.conn)
        if grown:
            log.info("statistics refreshed for grown tables", tables=grown)

    async def recompute_deadlines_for_calendar(self, tx: Tx, now: datetime) -> int:
        """Official calendar data loaded (or corrected) since the deadlines were counted:
        recompute the deadlines of open visits counted on the changed years (SPEC §2).

        Open means planned, due or missed (a missed visit stays open for logging; it is due
        again when its new deadline is still ahead); done visits are never touched. Due times
        never move. A visit already published (due or missed) gets a VisitDeadlineRecomputed
        for the visits service's queue; a planned one's VisitDue will carry its new deadline.
        Runs on every tick; once the stored digests match the calendar it costs one small
        query. Returns the number of visits whose deadline changed.
        """
        conn, cal = tx.conn, self.calendar
        current = cal.official_fingerprints()
        stored = await projections.load_calendar_years(conn, cal.region)
        if stored == current:
            return 0
        changed = domain.changed_calendar_years(stored, current)
        since = until = None
        if stored:
            # A day's margin either side: visits' years are local, the bounds UTC.
            since = datetime(min(changed), 1, 1, tzinfo=UTC) - timedelta(days=1)
            until = datetime(max(changed) + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)
        # Nothing recorded yet (a new database, or one from before this check): the
        # deadlines counted on a provisional year are the ones that official data can change.
        ids = await projections.customers_with_open_visits(conn, since=since, until=until)
        recomputed = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            profiles, _ = await projections.lock_customers(conn, chunk)
            deliveries = await projections.load_deliveries(conn, chunk)
            issues = await projections.load_resolved_issues(conn, chunk)
            plans = await projections.load_plans(conn, chunk)
            new: list[tuple[str, datetime, bool]] = []
            for cid in chunk:
                facts = domain.customer_facts(
                    cid,
                    profiles[cid],
                    deliveries.get(cid, {}).items(),
                    issues.get(cid, {}).items(),
                    self.default_timezone,
                )
                components = {c.key: c for c in domain.all_candidates(facts, cal, now)}
                for s in plans.get(cid, []):
                    if s.status == "done":
                        continue
                    found = domain.recomputed_deadline(
                        s.visit, components, facts.timezone, cal, self.policy
                    )
                    if found is not None and found != (
                        s.visit.deadline,
                        s.visit.deadline_provisional,
                    ):
                        new.append((s.visit.visit_id, *found))
                        if s.status != "planned" and found[0] != s.visit.deadline:
                            # Published already: the queue holding it must learn the move.
                            tx.publish(deadline_moved_event(s.visit, found[0], now))
            await projections.set_deadlines(conn, new, now)
            recomputed += len(new)
        await projections.save_calendar_years(conn, cal.region, current)
        log.info(
            "official calendar changed; open visits' deadlines recomputed",
            years=sorted(changed),
            customers=len(ids),
            visits=recomputed,
        )
        return recomputed

    async def on_tick(self, tx: Tx, now: datetime) -> None:
        """The clock moved: extend short plans, publish due visits, mark passed ones missed."""
        # First, so visits published below already carry deadlines on the current calendar.
        await self.recompute_deadlines_for_calendar(tx, now)
        await self.extend_plans(tx.conn, now)
        while await publish_due_visits(tx, now) == DUE_BATCH:
            pass
        await projections.mark_visits_missed(tx.conn, now)


async def _lock(
    conn: asyncpg.Connection, ids: Sequence[str]
) -> tuple[dict[str, domain.Profile], dict[str, datetime | None], set[str]]:
    """The customers locked (projections.lock_customers), the new ones with an empty profile
    and no plan end; and which are new."""
    profiles, reach = await projections.lock_customers(conn, ids)
    new = {c for c in ids if c not in profiles}
    for c in new:
        profiles[c] = domain.Profile()
        reach[c] = None
    return profiles, reach, new


async def _load_facts(
    conn: asyncpg.Connection, reach: Mapping[str, datetime | None]
) -> tuple[dict[str, dict[str, datetime]], dict[str, dict[str, datetime]]]:
    """The stored deliveries and resolved issues of the locked customers.

    Read only for customers with a stored plan end: a delivery or a resolved issue always
    sets one (in the transaction that stores it), so the others, new customers mostly, have
    none, and a batch of new customers skips both reads.
    """
    known = [c for c, at in reach.items() if at is not None]
    if not known:
        return {}, {}
    deliveries = await projections.load_deliveries(conn, known)
    return deliveries, await projections.load_resolved_issues(conn, known)


def _as_stored(at: datetime) -> datetime:
    """An instant as PostgreSQL gives it back (UTC), so a plan computed from an event and one
    re-computed later from the stored facts write the same keys and ids."""
    return at.astimezone(UTC)


async def publish_due_visits(
    tx: Tx,
    now: datetime,
    causation: AnyEvent | None = None,
    causes: Mapping[str, AnyEvent] | None = None,
) -> int:
    """Every planned visit due by `now` becomes `due` and gets exactly one VisitDue.

    `causes` names, per customer, the event that made their visit due (else `causation`).
    """
    rows = await projections.take_due_visits(tx.conn, now, DUE_BATCH)
    # In due order (an UPDATE's RETURNING keeps no order of its own).
    rows.sort(key=lambda r: (r["due_at"], r["visit_id"]))
    for row in rows:
        cause = causes.get(row["customer_id"], causation) if causes else causation
        tx.publish(visit_due_event(row, cause))
    return len(rows)


def deadline_moved_event(
    visit: domain.PlannedVisit, deadline: datetime, now: datetime
) -> Event[VisitDeadlineRecomputed]:
    """A published visit's new deadline; one id per visit and deadline."""
    data = VisitDeadlineRecomputed(
        visit_id=visit.visit_id,
        customer_id=visit.customer_id,
        deadline=deadline,
        previous_deadline=visit.deadline,
        recomputed_at=now,
    )
    return make_event(
        data,
        id=derived_id("VisitDeadlineRecomputed", visit.visit_id, deadline.isoformat()),
        source=SOURCE,
        subject=visit.customer_id,
        time=now,
    )


def visit_due_event(row: asyncpg.Record, causation: AnyEvent | None) -> Event[VisitDue]:
    """The VisitDue of a planned visit; its id depends only on the visit and the attempt."""
    data = VisitDue(
        visit_id=row["visit_id"],
        customer_id=row["customer_id"],
        order_id=row["order_id"],
        kinds=list(row["kinds"]),
        due_at=row["due_at"],
        deadline=row["deadline"],
        attempt=row["attempt"],
        issue_id=row["issue_id"],
        agent_id=row["agent_id"],
        reason=row["reason"],
    )
    return make_event(
        data,
        id=derived_id("VisitDue", row["visit_id"], str(row["attempt"])),
        source=SOURCE,
        subject=row["customer_id"],
        time=row["due_at"],
        causationid=causation.id if causation else None,
        correlationid=causation.correlationid if causation else None,
    )
