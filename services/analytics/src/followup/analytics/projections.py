"""Analytics' facts, one row per event, and the facts of chosen entities or of a period.

Rows are insert-only and keyed by event id, so the stored facts are a set, as the domain's are:
any order of the topics and any redelivery store the same rows. The aggregates (aggregates.py)
load the facts of the entities a batch touched; `load_facts` picks, through the indexes, every
visit, issue and customer that can count in a period (`involved`) for a fold of the period
(the oracle the aggregates are tested and benchmarked against).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

import asyncpg

from followup.analytics.domain.model import (
    AnalyticsEvent,
    CustomerFacts,
    Facts,
    IssueFacts,
    VisitFacts,
)
from followup.analytics.domain.period import Period
from followup.analytics.domain.records import (
    BY_KIND,
    ISSUE_PARTS,
    VISIT_PARTS,
    Entity,
    record_of,
)
from followup.core.db import Conn
from followup.core.maintenance import GrowingTable
from followup.events import EventData

CUSTOMER_COLUMNS = ("event_id", "customer_id", "at", "tier", "region", "timezone")
VISIT_COLUMNS = (
    "event_id",
    "visit_id",
    "customer_id",
    "kind",
    "at",
    "deadline",
    "attempt",
    "agent_id",
    "kinds",
    "issue_id",
    "outcome",
    "satisfaction",
    "result",
)
ISSUE_COLUMNS = (
    "event_id",
    "issue_id",
    "customer_id",
    "kind",
    "at",
    "category",
    "severity",
    "source",
    "department",
    "handover_by",
    "respond_by",
    "resolve_by",
    "timezone",
    "agent_id",
    "clock",
    "round",
    "paused_seconds",
    "pause_no",
)
_SQL_TYPES = {
    "at": "timestamptz",
    "deadline": "timestamptz",
    "handover_by": "timestamptz",
    "respond_by": "timestamptz",
    "resolve_by": "timestamptz",
    "attempt": "smallint",
    "satisfaction": "smallint",
    "round": "smallint",
    "paused_seconds": "int",
    "pause_no": "int",
}

Row = tuple[Any, ...]
# Filled at ingest speed (a new service, a replay's fresh tables): the service's wiring keeps
# their statistics, on the columns the batches and the reads pick by.
GROWING_TABLES = (
    GrowingTable("visit_fact", ("visit_id", "customer_id")),
    GrowingTable("issue_fact", ("issue_id", "customer_id")),
    GrowingTable("customer_fact", ("customer_id",)),
    GrowingTable("kpi_item", ("entity_id", "kpi")),
    GrowingTable("kpi_entity", ("entity_id",)),
    GrowingTable("kpi_day", ("kpi",)),
    GrowingTable("churn_signal", ("customer_id",)),
)


def _insert(table: str, columns: Sequence[str]) -> str:
    """One statement for a whole run of rows: one array per column, unnested."""
    arrays = ", ".join(f"${i}::{_SQL_TYPES.get(c, 'text')}[]" for i, c in enumerate(columns, 1))
    names = ", ".join(columns)
    select = names
    if "kinds" in columns:
        # A text[] per row cannot travel in an unnested 2-D array: kinds go comma-joined.
        select = select.replace("kinds", "string_to_array(kinds, ',')")
    return (
        f"INSERT INTO {table} ({names}) SELECT {select} FROM unnest({arrays}) AS u({names}) "
        "ON CONFLICT (event_id) DO NOTHING"
    )


# The columns of each entity's table: its ids, then its record's (a record names a kind for
# visits and issues; a customer's facts are all profiles).
COLUMNS: dict[Entity, tuple[str, ...]] = {
    "customer": CUSTOMER_COLUMNS,
    "visit": VISIT_COLUMNS,
    "issue": ISSUE_COLUMNS,
}


_ID_COLUMN: dict[Entity, str] = {"visit": "visit_id", "issue": "issue_id"}
_INSERTS: dict[Entity, str] = {
    "customer": _insert("customer_fact", CUSTOMER_COLUMNS),
    "visit": _insert("visit_fact", VISIT_COLUMNS),
    "issue": _insert("issue_fact", ISSUE_COLUMNS),
}


def fact_row(event_id: str, data: EventData) -> tuple[Entity, Row] | None:
    """The event's row and the table (entity) it goes to; None for an event that states
    nothing analytics keeps. No contact and no free text: a record has neither."""
    record = record_of(data)
    if record is None:
        return None
    record_type, values = record
    entity = record_type.entity
    # record_of knows only the analytics events, each of which names its customer.
    values |= {"event_id": event_id, "customer_id": cast(AnalyticsEvent, data).customer_id}
    values["kind"] = record_type.kind
    if entity in _ID_COLUMN:
        values[_ID_COLUMN[entity]] = getattr(data, _ID_COLUMN[entity])
    if (kinds := values.get("kinds")) is not None:
        # A text[] per row cannot travel in an unnested 2-D array: kinds go comma-joined.
        values["kinds"] = ",".join(kinds)
    return entity, tuple(values.get(c) for c in COLUMNS[entity])


async def record_facts(conn: asyncpg.Connection, events: Iterable[tuple[str, EventData]]) -> int:
    """Stores the facts of (event id, data) pairs, each once; returns the rows written."""
    rows: dict[Entity, list[Row]] = {"customer": [], "visit": [], "issue": []}
    for event_id, data in events:
        if (row := fact_row(event_id, data)) is not None:
            rows[row[0]].append(row[1])
    written = 0
    for entity, table_rows in rows.items():
        if table_rows:
            width = len(COLUMNS[entity])
            columns = [[r[i] for r in table_rows] for i in range(width)]
            status = await conn.execute(_INSERTS[entity], *columns)
            written += int(status.rsplit(" ", 1)[-1])
    return written


# --- what a period involves ---------------------------------------------------------------------

# Visits that can count in [$1, $2): a due time (satisfaction, response time), a deadline of
# any attempt or move (on-time rate) or a spot check in it; with $3, also every visit of a
# customer who logged one in it (churn runs look back over the customer's earlier logs).
_VISITS_INVOLVED = """
SELECT visit_id FROM visit_fact WHERE kind IN ('due', 'check') AND at >= $1 AND at < $2
UNION
SELECT visit_id FROM visit_fact WHERE deadline >= $1 AND deadline < $2
UNION
SELECT f.visit_id FROM visit_fact f
WHERE $3 AND f.customer_id IN (
    SELECT customer_id FROM visit_fact WHERE kind = 'log' AND at >= $1 AND at < $2)
"""

# Issues raised in the period (every issue KPI's cohort), with a breach deadline in it (most
# breaches, gold breaches); with $3, every issue of a customer who raised a complaint in it
# (two complaints within 90 days look back).
_ISSUES_INVOLVED = """
SELECT issue_id FROM issue_fact WHERE kind IN ('raise', 'breach') AND at >= $1 AND at < $2
UNION
SELECT f.issue_id FROM issue_fact f
WHERE $3 AND f.customer_id IN (
    SELECT customer_id FROM issue_fact
    WHERE kind = 'raise' AND at >= $1 AND at < $2
      AND (category = 'complaint' OR source = 'complaint'))
"""

# The issue-follow-up visits of the involved issues (return-visit rates).
_FOLLOW_UPS = """
SELECT DISTINCT visit_id FROM visit_fact
WHERE kind = 'due' AND issue_id = ANY($1::text[]) AND 'issue_follow_up' = ANY(kinds)
"""


async def involved(
    conn: asyncpg.Connection, period: Period, *, churn: bool
) -> tuple[list[str], list[str]]:
    """The visit and issue ids whose facts every KPI of the period (and, with `churn`, every
    churn signal fired in it) reads."""
    # Sorted, as the visits: the version of a period hashes both lists.
    issue_ids = sorted(
        r[0] for r in await conn.fetch(_ISSUES_INVOLVED, period.start, period.end, churn)
    )
    visit_ids = {r[0] for r in await conn.fetch(_VISITS_INVOLVED, period.start, period.end, churn)}
    if issue_ids:
        visit_ids |= {r[0] for r in await conn.fetch(_FOLLOW_UPS, issue_ids)}
    return sorted(visit_ids), issue_ids


async def load_facts(conn: asyncpg.Connection, period: Period, *, churn: bool = False) -> Facts:
    """The facts of everything the period involves, with their customers' profiles."""
    return await load_entities(conn, *await involved(conn, period, churn=churn))


async def load_entities(conn: Conn, visit_ids: list[str], issue_ids: list[str]) -> Facts:
    """The facts of the visits and issues, with their customers' profiles."""
    visit_rows = await conn.fetch(
        f"SELECT {', '.join(VISIT_COLUMNS)} FROM visit_fact WHERE visit_id = ANY($1::text[])",
        visit_ids,
    )
    issue_rows = await conn.fetch(
        f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issue_fact WHERE issue_id = ANY($1::text[])",
        issue_ids,
    )
    customer_ids = {r["customer_id"] for r in visit_rows} | {r["customer_id"] for r in issue_rows}
    customer_rows = await conn.fetch(
        "SELECT customer_id, at, tier, region, timezone FROM customer_fact "
        "WHERE customer_id = ANY($1::text[])",
        sorted(customer_ids),
    )
    return facts_from_rows(customer_rows, visit_rows, issue_rows)


async def load_all_facts(conn: asyncpg.Connection) -> Facts:
    """Every stored fact (tests, and checks on small databases)."""
    return facts_from_rows(
        await conn.fetch("SELECT customer_id, at, tier, region, timezone FROM customer_fact"),
        await conn.fetch(f"SELECT {', '.join(VISIT_COLUMNS)} FROM visit_fact"),
        await conn.fetch(f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issue_fact"),
    )


def facts_from_rows(
    customer_rows: Iterable[Any], visit_rows: Iterable[Any], issue_rows: Iterable[Any]
) -> Facts:
    """The domain's facts from stored rows, each through its record type's `fact`."""
    profiles: dict[str, set[Any]] = defaultdict(set)
    profile = BY_KIND["customer", "profile"].fact
    for r in customer_rows:
        profiles[r["customer_id"]].add(profile(r))
    customers = {cid: CustomerFacts(cid, frozenset(ps)) for cid, ps in profiles.items()}
    visits = {
        vid: VisitFacts(vid, cid, *sets)
        for vid, (cid, sets) in _parts(visit_rows, "visit", "visit_id", VISIT_PARTS).items()
    }
    issues = {
        iid: IssueFacts(iid, cid, *sets)
        for iid, (cid, sets) in _parts(issue_rows, "issue", "issue_id", ISSUE_PARTS).items()
    }
    return Facts(customers, visits, issues)


# Most facts of an entity are empty sets (no move, no pause): one shared empty frozenset.
_EMPTY: frozenset[Any] = frozenset()


def _parts(
    rows: Iterable[Any], entity: Entity, id_column: str, parts: tuple[str, ...]
) -> dict[str, tuple[str, list[frozenset[Any]]]]:
    """Per entity id, its customer and its fact sets in `parts` order."""
    index = {part: n for n, part in enumerate(parts)}
    found: dict[str, tuple[str, list[set[Any]]]] = {}
    for r in rows:
        key = r[id_column]
        if key not in found:
            found[key] = (r["customer_id"], [set() for _ in parts])
        record_type = BY_KIND[entity, r["kind"]]
        found[key][1][index[record_type.part]].add(record_type.fact(r))
    return {
        key: (cid, [frozenset(s) if s else _EMPTY for s in sets])
        for key, (cid, sets) in found.items()
    }
