"""Re-planning customers in bulk: lock, read, plan in memory, write what changed; and the two
ways a stored plan is extended (the tick, a reader), see `horizon`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from followup.calendar import BusinessCalendar
from followup.core.policy import DEFAULT_PRESET, load_preset
from followup.core.policy import Policy as Document
from followup.scheduling import horizon
from followup.scheduling.domain.model import CustomerFacts, CustomerState, customer_facts
from followup.scheduling.domain.plan import PlannedVisit, plan_customer
from followup.scheduling.domain.policy import Policy
from followup.scheduling.domain.reconcile import (
    PlanChanges,
    StoredVisit,
    advance,
    changes_between,
    plan_components,
    reconcile,
)
from followup.scheduling.domain.rules import scheduling_policy
from followup.scheduling.domain.schedule import PlanMemo
from followup.scheduling.projections import customers, plans


@dataclass
class Planner:
    """Plans over one business calendar and one policy document: each customer on the
    planner's policy for their tier and segment, with the memo customers on it share."""

    calendar: BusinessCalendar
    default_timezone: str
    document: Document = field(default_factory=lambda: load_preset(DEFAULT_PRESET))
    # One planner's policy (and its memo) per distinct policy, whatever tiers share it.
    memos: dict[Policy, PlanMemo] = field(init=False, default_factory=dict)
    by_profile: dict[tuple[str, str | None], Policy] = field(init=False, default_factory=dict)

    @property
    def policy(self) -> Policy:
        """What every customer's policy shares (merge, retries, horizon): a bronze one's."""
        return self.policy_for("bronze", None)

    def policy_for(self, tier: str, segment: str | None) -> Policy:
        """The planner's policy for a customer of this tier and segment."""
        found = self.by_profile.get((tier, segment))
        if found is None:
            built = scheduling_policy(self.document, tier=tier, segment=segment)
            found = next((p for p in self.memos if p == built), built)
            self.by_profile[(tier, segment)] = found
            self.memos.setdefault(found, PlanMemo(self.calendar, found))
        return found

    def use(self, document: Document) -> None:
        """Plans from now on with `document` (the policy in force)."""
        self.document = document
        self.memos.clear()
        self.by_profile.clear()

    def rules_for(self, facts: CustomerFacts) -> tuple[Policy, PlanMemo]:
        """The customer's policy and the memo it plans with."""
        policy = self.policy_for(facts.tier, facts.segment)
        return policy, self.memos[policy]

    async def replan_ids(
        self,
        conn: asyncpg.Connection,
        now: datetime,
        customer_ids: Sequence[str],
        extend_to: datetime | None = None,
    ) -> int:
        """Locks, reads and re-plans these customers; returns the number of visits stored."""
        states, reach, new = await customers.lock_states(conn, sorted(set(customer_ids)))
        return await self.replan(conn, now, states, reach, extend_to, new)

    async def replan(
        self,
        conn: asyncpg.Connection,
        now: datetime,
        states: Mapping[str, CustomerState],
        reach: Mapping[str, datetime | None],
        extend_to: datetime | None = None,
        new: Collection[str] = (),
        steps: Mapping[str, Sequence[CustomerState]] | None = None,
    ) -> int:
        """Plans every locked (or `new`) customer in memory up to their stored horizon (or
        `extend_to`, if further) and writes what changed; returns the number of visits stored.

        A stored plan never gets shorter: `reach` (how far each one reached) is a floor.
        `steps` holds, for a customer several of whose facts came in one batch, the states
        after each of them but the last: the customer is planned through each in turn, what
        falls due published in between, exactly as if the facts had come one a batch.
        """
        ids = list(states)
        # Only a customer with a stored plan end has stored visits (see lock_states).
        known = [c for c in ids if reach.get(c) is not None]
        stored = await plans.load_plans(conn, known) if known else {}
        update: list[PlannedVisit] = []
        delete: list[str] = []
        until: dict[str, datetime | None] = {}
        stored_count = 0

        async def planned_visits() -> AsyncIterator[Sequence[PlannedVisit]]:
            # Consumed by the COPY as it goes: PostgreSQL stores while the rest is planned.
            # One customer's new visits at a time.
            nonlocal stored_count
            for cid in ids:
                mine = stored.get(cid, [])
                before = reach.get(cid)
                earlier = steps.get(cid) if steps else None
                if earlier:
                    changes, until[cid] = self._plan_steps(
                        cid, [*earlier, states[cid]], mine, before, now, extend_to
                    )
                else:
                    end, visits = self._plan(cid, states[cid], mine, before, now, extend_to)
                    until[cid] = end
                    if not mine:  # a new customer (most of them): the whole plan is new
                        stored_count += len(visits)
                        yield visits
                        continue
                    changes = reconcile(mine, visits)
                update.extend(changes.update)
                delete.extend(changes.delete)
                stored_count += len(changes.insert)
                yield changes.insert

        await plans.insert_visits(conn, planned_visits(), now)
        await plans.update_visits(conn, update)
        await plans.delete_visits(conn, delete)
        await customers.save_customers(conn, states, until, now, new)
        return stored_count

    def _plan(
        self,
        cid: str,
        state: CustomerState,
        mine: Sequence[StoredVisit],
        before: datetime | None,
        now: datetime,
        extend_to: datetime | None,
    ) -> tuple[datetime | None, list[PlannedVisit]]:
        """How far the customer's stored plan reaches now, and its open visits up to there."""
        facts = customer_facts(cid, state, self.default_timezone)
        end = horizon.plan_reach(horizon.stored_horizon(facts, now), before, extend_to)
        if end is None:  # no fact that plans anything yet
            return None, []
        fixed, planned = plan_components(mine)
        policy, memo = self.rules_for(facts)
        visits = plan_customer(
            facts,
            self.calendar,
            now,
            fixed,
            planned,
            policy,
            until=end,
            stored_until=before,
            memo=memo,
        )
        return end, visits

    def _plan_steps(
        self,
        cid: str,
        states: Sequence[CustomerState],
        loaded: Sequence[StoredVisit],
        before: datetime | None,
        now: datetime,
        extend_to: datetime | None,
    ) -> tuple[PlanChanges, datetime | None]:
        """The customer planned through each state in turn, in memory, what is due by `now`
        published after each (as the due sweep does): the changes from the stored plan to the
        last one's, and how far it reaches."""
        mine = list(loaded)
        for state in states:
            end, visits = self._plan(cid, state, mine, before, now, extend_to)
            if end is None:
                continue
            mine = advance(mine, reconcile(mine, visits), now)
            before = end
        return changes_between(loaded, mine), before

    async def extend_plans(self, conn: asyncpg.Connection, now: datetime) -> int:
        """Stores the next part of every plan that ends less than EXTEND_WITHIN ahead (up to
        EXTEND_AHEAD past now); returns the number of customers extended.

        All of them, 500 at a time, before the tick publishes anything: after a jump of the
        clock, visits past a plan's old end are due at once and must be stored (whatever their
        deadline) to be published with the rest, in due order.
        """
        await horizon.lock_extension(conn)
        extended = 0
        extend_to = now + horizon.EXTEND_AHEAD
        short = now + horizon.EXTEND_WITHIN
        while ids := await customers.customers_stored_short(conn, short, horizon.EXTEND_BATCH):
            await self.replan_ids(conn, now, ids, extend_to=extend_to)
            extended += len(ids)
        return extended

    def read_horizon(self, now: datetime) -> datetime:
        """How far ahead readers see the plan (horizon.read_horizon)."""
        return horizon.read_horizon(now, self.default_timezone, self.policy)

    async def store_plans_until(
        self, conn: asyncpg.Connection, now: datetime, to: datetime, customer_id: str | None = None
    ) -> int:
        """Readers' side of the stored horizon: stores every plan (or one customer's) that
        ends before `to` (at most read_horizon) up to READ_MARGIN past it, so that a read of
        the stored visits due by `to` is the whole plan; returns the number of customers
        extended.

        Nothing is published: the tick publishes what is due. One transaction per 500
        customers, each holding the extension lock, so a tick never waits on a reader's
        customers while holding some the reader waits on.
        """
        to = min(to, self.read_horizon(now))
        extend_to = to + horizon.READ_MARGIN
        extended = 0
        while True:
            async with conn.transaction():
                await horizon.lock_extension(conn)
                if customer_id is None:
                    ids = await customers.customers_stored_short(conn, to, horizon.EXTEND_BATCH)
                else:
                    known, reach = await customers.stored_until(conn, customer_id)
                    ids = [customer_id] if known and reach is not None and reach < to else []
                if not ids:
                    return extended
                await self.replan_ids(conn, now, ids, extend_to=extend_to)
            extended += len(ids)
