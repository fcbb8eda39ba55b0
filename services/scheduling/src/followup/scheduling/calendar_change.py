"""Official calendar data loaded (or corrected) after deadlines were counted (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from followup.core.subscription import Tx
from followup.scheduling.domain.candidates import all_candidates
from followup.scheduling.domain.model import customer_facts
from followup.scheduling.domain.plan import horizon_end
from followup.scheduling.domain.reconcile import changed_calendar_years, recomputed_deadline
from followup.scheduling.planning import Planner
from followup.scheduling.projections import calendar_years, customers, plans
from followup.scheduling.publishing import deadline_moved_event

log = structlog.get_logger(__name__)


async def recompute_deadlines(tx: Tx, now: datetime, planner: Planner) -> int:
    """Recomputes the deadlines of open visits counted on the calendar years that changed.

    Open means planned, due or missed (a missed visit stays open for logging; it is due
    again when its new deadline is still ahead); done visits are never touched. Due times
    never move. A visit already published (due or missed) gets a VisitDeadlineRecomputed
    for the visits service's queue; a planned one's VisitDue will carry its new deadline.
    Once the stored digests match the calendar it costs one small query. Returns the number
    of visits whose deadline changed.
    """
    conn, cal = tx.conn, planner.calendar
    current = cal.official_fingerprints()
    stored = await calendar_years.load_calendar_years(conn, cal.region)
    if stored == current:
        return 0
    changed = changed_calendar_years(stored, current)
    since = until = None
    if stored:
        # A day's margin either side: visits' years are local, the bounds UTC.
        since = datetime(min(changed), 1, 1, tzinfo=UTC) - timedelta(days=1)
        until = datetime(max(changed) + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)
    # Nothing recorded yet (a new database, or one from before this check): the
    # deadlines counted on a provisional year are the ones that official data can change.
    ids = await calendar_years.customers_with_open_visits(conn, since=since, until=until)
    recomputed = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        states, _, _ = await customers.lock_states(conn, chunk)
        stored_plans = await plans.load_plans(conn, chunk)
        new: list[tuple[str, datetime, bool]] = []
        for cid in chunk:
            facts = customer_facts(cid, states[cid], planner.default_timezone)
            policy, memo = planner.rules_for(facts)
            found_all = all_candidates(
                facts, cal, until=horizon_end(facts, now, policy), policy=policy, memo=memo
            )
            components = {c.key: c for c in found_all}
            for s in stored_plans.get(cid, []):
                if s.status == "done":
                    continue
                found = recomputed_deadline(s.visit, components, facts.timezone, cal, policy)
                if found is not None and found != (s.visit.deadline, s.visit.deadline_provisional):
                    new.append((s.visit.visit_id, *found))
                    if s.status != "planned" and found[0] != s.visit.deadline:
                        # Published already: the queue holding it must learn the move.
                        tx.publish(deadline_moved_event(s.visit, found[0], now))
        await calendar_years.set_deadlines(conn, new, now)
        recomputed += len(new)
    await calendar_years.save_calendar_years(conn, cal.region, current)
    log.info(
        "official calendar changed; open visits' deadlines recomputed",
        years=sorted(changed),
        customers=len(ids),
        visits=recomputed,
    )
    return recomputed
