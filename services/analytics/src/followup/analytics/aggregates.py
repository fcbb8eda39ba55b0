"""The incremental aggregates, maintained in the consumer's batch transaction.

After a batch's facts are stored, every visit and issue it touched (and those whose items
depend on them: a customer's visits and issues when a profile arrives, an issue when one of
its follow-up visits moves) is folded from its stored facts and its KPI items
(`domain.items`) replace the old ones; the churn signals of every customer whose logs,
checks, complaints, breaches or profiles moved are worked out again. So a late or
out-of-order event corrects exactly what it touches, and a replay, folding the same facts,
rebuilds the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from followup.analytics import projections
from followup.analytics.domain.issues import follow_up_visits
from followup.analytics.domain.items import (
    FOREVER,
    Item,
    customer_settled_at,
    issue_items,
    issue_settled_at,
    signals_forever,
    visit_items,
    visit_settled_at,
)
from followup.analytics.domain.model import (
    AnalyticsEvent,
    Facts,
    IssueEvent,
    IssueFacts,
    VisitEvent,
    VisitFacts,
)
from followup.analytics.domain.records import RECORD_TYPES
from followup.core.db import Conn
from followup.events import EventData

# The kinds of facts the churn rules read (besides profiles, which every rule's tier reads).
_CHURN_KINDS = frozenset({"log", "check", "raise", "breach", "profile"})
ITEM_COLUMNS = (
    "entity",
    "entity_id",
    "kpi",
    "at",
    "k_month",
    "k_tier",
    "k_agent",
    "k_department",
    "k_category",
    "k_region",
    "hit",
    "duration_us",
    "detail",
    "settled_at",
)
_ITEM_TYPES = ("text", "text", "text", "timestamptz", *["text"] * 6, "bool", "bigint", "text")
# The ratio KPIs kept per day (readings.RATIO_KPIS), and the zone their days are counted in.
DAY_KPIS = (
    "satisfaction",
    "on_time",
    "sla_handover",
    "sla_first_response",
    "sla_resolution",
    "resolution",
    "closure",
    "return_complaint",
    "return_repair",
)
DAY_ZONE = "Asia/Shanghai"
_GROUPS = """CROSS JOIN LATERAL (VALUES
    ('all', 'all'), ('month', k_month), ('tier', k_tier), ('agent', k_agent),
    ('department', k_department), ('category', k_category), ('region', k_region)
) AS g(grouping, key)"""
_DAY = f"(at AT TIME ZONE '{DAY_ZONE}')::date"
# Adds (sign 1) or subtracts (-1) the changed items to their days, every grouping: the ratio
# KPIs' hits and counts, the time KPIs' counts per hour of duration.
_MONTH = f"date_trunc('month', at AT TIME ZONE '{DAY_ZONE}')::date"


def _ratio_delta(name: str, table: str, span: str) -> str:
    return f"""
, {name} AS (
    INSERT INTO {table} (kpi, grouping, day, key, hits, n)
    SELECT kpi, g.grouping, {span}, g.key, $1 * count(*) FILTER (WHERE hit), $1 * count(*)
    FROM changed {_GROUPS}
    WHERE kpi = ANY('{{{",".join(DAY_KPIS)}}}'::text[])
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (kpi, grouping, day, key)
    DO UPDATE SET hits = {table}.hits + EXCLUDED.hits, n = {table}.n + EXCLUDED.n
)"""


def _duration_delta(name: str, table: str, span: str) -> str:
    return f"""
, {name} AS (
    INSERT INTO {table} (kpi, grouping, day, key, bucket, n)
    SELECT kpi, g.grouping, {span}, g.key, bucket, $1 * count(*)
    FROM changed {_GROUPS}
    WHERE duration_us IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (kpi, grouping, day, key, bucket) DO UPDATE SET n = {table}.n + EXCLUDED.n
)"""


# Adds (sign 1) or subtracts (-1) the changed items to their days and months, every grouping:
# the ratio KPIs' hits and counts, the time KPIs' counts per hour of duration.
_DAY_DELTA = (
    _ratio_delta("days", "kpi_day", _DAY)
    + _ratio_delta("months", "kpi_month", _MONTH)
    + _duration_delta("duration_days", "kpi_dur_day", _DAY)
    + _duration_delta("duration_months", "kpi_dur_month", _MONTH)
    + " SELECT 1"
)
_RETURNED = (
    "kpi, at, k_month, k_tier, k_agent, k_department, k_category, k_region, hit, duration_us,"
    " bucket"
)
_INSERT_ITEMS = (
    f"WITH changed AS (INSERT INTO kpi_item ({', '.join(ITEM_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${n}::{t}[]" for n, t in enumerate((*_ITEM_TYPES, "timestamptz"), 2))
    + f") RETURNING {_RETURNED})"
)
_DELETE_ITEMS = (
    "WITH changed AS (DELETE FROM kpi_item WHERE entity_id = ANY($2::text[]) AND entity = $3 "
    f"RETURNING {_RETURNED})" + _DAY_DELTA
)
_UPSERT_ENTITIES = """
INSERT INTO kpi_entity (entity, entity_id, settled_at)
SELECT $1, * FROM unnest($2::text[], $3::timestamptz[])
ON CONFLICT (entity, entity_id) DO UPDATE SET settled_at = EXCLUDED.settled_at
"""
_MICROSECOND = timedelta(microseconds=1)


def item_row(
    entity: str, entity_id: str, item: Item, settled_at: datetime | None
) -> tuple[Any, ...]:
    """The kpi_item row of an item."""
    duration = None if item.duration is None else item.duration // _MICROSECOND
    return (
        entity,
        entity_id,
        item.kpi,
        item.at,
        *item.keys,
        item.hit,
        duration,
        item.detail,
        settled_at,
    )


async def _ids(conn: Conn, sql: str, keys: Iterable[str]) -> set[str]:
    keys = sorted(set(keys))
    return {r[0] for r in await conn.fetch(sql, keys)} if keys else set()


VISITS_OF = "SELECT DISTINCT visit_id FROM visit_fact WHERE customer_id = ANY($1::text[])"
ISSUES_OF = "SELECT DISTINCT issue_id FROM issue_fact WHERE customer_id = ANY($1::text[])"
FOLLOW_UPS_OF = """
SELECT DISTINCT visit_id FROM visit_fact
WHERE kind = 'due' AND issue_id = ANY($1::text[]) AND 'issue_follow_up' = ANY(kinds)
"""


def _merge(a: Facts, b: Facts) -> Facts:
    return Facts({**a.customers, **b.customers}, {**a.visits, **b.visits}, {**a.issues, **b.issues})


async def refresh(conn: Conn, events: Sequence[EventData]) -> None:
    """Recomputes the aggregates of everything the events touched (their facts are stored)."""
    visits: set[str] = set()
    issues: set[str] = set()
    profiled: set[str] = set()
    churned: set[str] = set()
    for data in events:
        record_type = RECORD_TYPES.get(type(data))
        if record_type is None:
            continue
        # Record types exist only for the analytics events, each naming its customer.
        event = cast(AnalyticsEvent, data)
        customer_id = event.customer_id
        if isinstance(event, VisitEvent):
            visits.add(event.visit_id)
        elif isinstance(event, IssueEvent):
            issues.add(event.issue_id)
        else:
            profiled.add(customer_id)
        if record_type.kind in _CHURN_KINDS:
            churned.add(customer_id)
    if not (visits or issues or profiled):
        return
    # A profile moves the tier, region and zone of the customer's items; churn reads all of a
    # customer's visits and issues.
    visits |= await _ids(conn, VISITS_OF, profiled)
    issues |= await _ids(conn, ISSUES_OF, profiled)
    loaded_visits = visits | await _ids(conn, VISITS_OF, churned)
    loaded_issues = issues | await _ids(conn, ISSUES_OF, churned)
    facts = await projections.load_entities(conn, sorted(loaded_visits), sorted(loaded_issues))
    # An issue's return-visit items read its follow-up visits: an issue a touched visit follows
    # up is touched, and every follow-up visit of a touched issue is read.
    issues |= {
        d.issue_id
        for vid in visits
        if (v := facts.visits.get(vid)) is not None
        for d in v.dues
        if "issue_follow_up" in d.kinds and d.issue_id is not None
    }
    more_visits = await _ids(conn, FOLLOW_UPS_OF, issues) - facts.visits.keys()
    more_issues = issues - facts.issues.keys()
    if more_visits or more_issues:
        extra = await projections.load_entities(conn, sorted(more_visits), sorted(more_issues))
        facts = _merge(facts, extra)
    await _store_items(conn, facts, visits, issues)
    if churned:
        await _store_signals(conn, facts, churned)


async def _store_items(conn: Conn, facts: Facts, visits: set[str], issues: set[str]) -> None:
    rows: list[tuple[Any, ...]] = []
    settled: dict[str, list[tuple[str, datetime | None]]] = {"visit": [], "issue": []}
    for vid in sorted(visits):
        visit = facts.visits.get(vid)
        if visit is None:
            continue
        at = visit_settled_at(visit)
        settled["visit"].append((vid, at))
        rows += [item_row("visit", vid, i, at) for i in visit_items(facts, visit, FOREVER)]
    follow_ups = follow_up_visits(facts)
    for iid in sorted(issues):
        issue = facts.issues.get(iid)
        if issue is None:
            continue
        fus = follow_ups.get(iid, [])
        at = issue_settled_at(issue, fus)
        settled["issue"].append((iid, at))
        rows += [item_row("issue", iid, i, at) for i in issue_items(facts, issue, fus, FOREVER)]
    for entity, pairs in settled.items():
        if pairs:
            ids = [p[0] for p in pairs]
            await conn.execute(_DELETE_ITEMS, -1, ids, entity)
            await conn.execute(_UPSERT_ENTITIES, entity, ids, [p[1] for p in pairs])
    if rows:
        columns = ([r[n] for r in rows] for n in range(len(ITEM_COLUMNS)))
        await conn.execute(_INSERT_ITEMS + _DAY_DELTA, 1, *columns)


async def _store_signals(conn: Conn, facts: Facts, customers: set[str]) -> None:
    visits: dict[str, dict[str, VisitFacts]] = {cid: {} for cid in customers}
    issues: dict[str, dict[str, IssueFacts]] = {cid: {} for cid in customers}
    for vid, v in facts.visits.items():
        if v.customer_id in visits:
            visits[v.customer_id][vid] = v
    for iid, i in facts.issues.items():
        if i.customer_id in issues:
            issues[i.customer_id][iid] = i
    signals: list[tuple[str, str, datetime, tuple[str, ...]]] = []
    settled: list[tuple[str, datetime | None]] = []
    for cid in sorted(customers):
        profiles = {cid: facts.customers[cid]} if cid in facts.customers else {}
        own = Facts(profiles, visits[cid], issues[cid])
        settled.append((cid, customer_settled_at(own)))
        signals += signals_forever(own)
    ids = [c for c, _ in settled]
    await conn.execute("DELETE FROM churn_signal WHERE customer_id = ANY($1::text[])", ids)
    await conn.execute(_UPSERT_ENTITIES, "customer", ids, [s for _, s in settled])
    if signals:
        # One text[] per row cannot travel in an unnested 2-D array: evidence goes joined.
        await conn.execute(
            "INSERT INTO churn_signal (customer_id, rule, at, evidence) "
            "SELECT c, r, a, string_to_array(e, chr(31)) "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS u(c, r, a, e)",
            [s[0] for s in signals],
            [s[1] for s in signals],
            [s[2] for s in signals],
            [chr(31).join(s[3]) for s in signals],
        )
