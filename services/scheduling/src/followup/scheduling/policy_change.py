"""The policy in force (SPEC §11): PolicyActivated stored in the service's database, and the
open plans re-planned once an activation is in force, without a restart."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from followup.core.policy import Policy, PolicyHistory, policy_digest
from followup.core.policy_store import load_policy_history
from followup.scheduling.planning import Planner

log = structlog.get_logger(__name__)

_REPLAN_BATCH = 500


class PolicyFollower:
    """Keeps a planner on the policy in force at the clock's now."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.default: Policy = planner.document
        self.history = PolicyHistory(self.default)
        self.stored = 0  # activations read into `history`
        self.digest = policy_digest(self.default)  # of the planner's policy

    async def follow(self, conn: asyncpg.Connection, now: datetime) -> int:
        """Switches the planner to the policy in force at `now` if it is another; returns the
        number of customers re-planned (their open visits follow it, done ones stand)."""
        count: int = await conn.fetchval("SELECT count(*) FROM policy_activation")
        if count != self.stored:
            self.history = await load_policy_history(conn, self.default)
            self.stored = count
        policy = self.history.at(now)
        if policy is self.planner.document:
            return 0
        digest = policy_digest(policy)
        self.planner.use(policy)
        if digest == self.digest:  # the same policy read back again
            return 0
        self.digest = digest
        ids = await customers_with_open_visits(conn)
        for i in range(0, len(ids), _REPLAN_BATCH):
            await self.planner.replan_ids(conn, now, ids[i : i + _REPLAN_BATCH])
        log.info("policy in force", policy=policy.id, version=policy.version, customers=len(ids))
        return len(ids)


async def customers_with_open_visits(conn: asyncpg.Connection) -> list[str]:
    """Customers with a visit not done: the ones a new policy re-plans."""
    rows = await conn.fetch(
        "SELECT DISTINCT customer_id FROM planned_visit WHERE status <> 'done' ORDER BY 1"
    )
    return [r[0] for r in rows]
