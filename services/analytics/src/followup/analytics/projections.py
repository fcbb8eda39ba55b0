"""Analytics' read-model SQL: the domain's facts, one row per event, and the facts a period needs.

Rows are insert-only and keyed by event id, so the stored facts are a set, as the domain's are:
any order of the topics and any redelivery store the same rows. A query does not fold every
stored row: it picks, through the indexes, every visit, issue and customer that can count in
its period (see `involved`), loads their whole facts and hands them to the pure domain, whose
answer over them equals its answer over everything (each KPI filters by its own cohort).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg

from followup.analytics.domain import (
    AssignmentFact,
    BreachFact,
    CheckFact,
    CustomerEvent,
    CustomerFacts,
    DeadlineMove,
    DueFact,
    Facts,
    HandoverMove,
    IssueEvent,
    IssueFacts,
    LogFact,
    Period,
    Profile,
    RaisedFact,
    ResolutionFact,
    VisitEvent,
    VisitFacts,
)
from followup.events import (
    CustomerDelivered,
    EventData,
    IssueAssigned,
    IssueClosed,
    IssueDeadlinesRecomputed,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResumed,
    IssueSlaBreached,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
)

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


_INSERT_CUSTOMERS = _insert("customer_fact", CUSTOMER_COLUMNS)
_INSERT_VISITS = _insert("visit_fact", VISIT_COLUMNS)
_INSERT_ISSUES = _insert("issue_fact", ISSUE_COLUMNS)


def customer_row(event_id: str, e: CustomerEvent) -> Row:
    """The customer_fact row of a delivery or signed intent (no contact: it is not kept)."""
    at = e.delivered_at if isinstance(e, CustomerDelivered) else e.signed_at
    return (event_id, e.customer_id, at, e.tier, e.region, e.timezone)


def visit_row(event_id: str, e: VisitEvent) -> Row:
    """The visit_fact row of a visit event."""
    values: dict[str, Any] = {"event_id": event_id, "visit_id": e.visit_id}
    values["customer_id"] = e.customer_id
    if isinstance(e, VisitDue):
        values |= {
            "kind": "due",
            "at": e.due_at,
            "deadline": e.deadline,
            "attempt": e.attempt,
            "agent_id": e.agent_id,
            "kinds": ",".join(e.kinds),
            "issue_id": e.issue_id,
        }
    elif isinstance(e, VisitDeadlineRecomputed):
        values |= {"kind": "move", "at": e.recomputed_at, "deadline": e.deadline}
    elif isinstance(e, VisitLogged):
        values |= {
            "kind": "log",
            "at": e.logged_at,
            "agent_id": e.agent_id,
            "outcome": e.outcome,
            "satisfaction": e.satisfaction,
        }
    else:
        values |= {"kind": "check", "at": e.checked_at, "agent_id": e.agent_id}
        values["result"] = e.result
    return tuple(values.get(c) for c in VISIT_COLUMNS)


def issue_row(event_id: str, e: IssueEvent) -> Row | None:
    """The issue_fact row of an issue event; None for a recompute that left handover as it was."""
    values: dict[str, Any] = {"event_id": event_id, "issue_id": e.issue_id}
    values["customer_id"] = e.customer_id
    if isinstance(e, IssueRaised):
        values |= {
            "kind": "raise",
            "at": e.raised_at,
            "category": e.category,
            "severity": e.severity,
            "source": e.source,
            "department": e.department,
            "handover_by": e.handover_by,
            "respond_by": e.respond_by,
            "resolve_by": e.resolve_by,
            "timezone": e.timezone,
        }
    elif isinstance(e, IssueAssigned):
        values |= {
            "kind": "assign",
            "at": e.assigned_at,
            "agent_id": e.assignee_id,
            "department": e.department,
        }
    elif isinstance(e, IssueResolved):
        values |= {
            "kind": "resolve",
            "at": e.resolved_at,
            "resolve_by": e.resolve_by,
            "paused_seconds": e.paused_seconds,
        }
    elif isinstance(e, IssueReopened):
        values |= {"kind": "reopen", "at": e.reopened_at}
    elif isinstance(e, IssueClosed):
        values |= {"kind": "close", "at": e.closed_at}
    elif isinstance(e, IssueSlaBreached):
        values |= {
            "kind": "breach",
            "at": e.deadline,
            "clock": e.clock,
            "round": e.round,
            "department": e.department,
            "agent_id": e.owner_id,
        }
    elif isinstance(e, IssuePaused):
        values |= {"kind": "pause", "at": e.paused_at, "pause_no": e.pause_no}
    elif isinstance(e, IssueResumed):
        values |= {"kind": "resume", "at": e.resumed_at, "pause_no": e.pause_no}
    else:
        assert isinstance(e, IssueDeadlinesRecomputed)
        if e.handover_by is None:
            return None
        values |= {"kind": "handover_move", "at": e.recomputed_at, "handover_by": e.handover_by}
    return tuple(values.get(c) for c in ISSUE_COLUMNS)


def _columns(rows: list[Row], width: int) -> list[list[Any]]:
    return [[r[i] for r in rows] for i in range(width)] if rows else []


async def record_facts(conn: asyncpg.Connection, events: Iterable[tuple[str, EventData]]) -> int:
    """Stores the facts of (event id, data) pairs, each once; returns the rows written."""
    customers: list[Row] = []
    visits: list[Row] = []
    issues: list[Row] = []
    for event_id, data in events:
        if isinstance(data, CustomerEvent):
            customers.append(customer_row(event_id, data))
        elif isinstance(data, VisitEvent):
            visits.append(visit_row(event_id, data))
        elif isinstance(data, IssueEvent) and (row := issue_row(event_id, data)) is not None:
            issues.append(row)
    written = 0
    if customers or visits or issues:
        # In the batch's transaction: a reader sees the count move exactly with the facts.
        await conn.execute("UPDATE fact_version SET batches = batches + 1")
    for sql, rows, width in (
        (_INSERT_CUSTOMERS, customers, len(CUSTOMER_COLUMNS)),
        (_INSERT_VISITS, visits, len(VISIT_COLUMNS)),
        (_INSERT_ISSUES, issues, len(ISSUE_COLUMNS)),
    ):
        if rows:
            status = await conn.execute(sql, *_columns(rows, width))
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


async def load_entities(
    conn: asyncpg.Connection, visit_ids: list[str], issue_ids: list[str]
) -> Facts:
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


# What the involved entities' stored facts are: rows are only ever added, so for the same ids
# the same counts mean the same rows (a replay rebuilds the same rows from the same events).
_VERSION = """
SELECT (SELECT count(*) FROM visit_fact WHERE visit_id = ANY($1::text[])),
       (SELECT count(*) FROM issue_fact WHERE issue_id = ANY($2::text[])),
       (SELECT count(*) FROM customer_fact WHERE customer_id IN (
            SELECT customer_id FROM visit_fact WHERE visit_id = ANY($1::text[])
            UNION SELECT customer_id FROM issue_fact WHERE issue_id = ANY($2::text[])))
"""


_GLOBAL_VERSION = "SELECT 'fact_version'::regclass::oid::text || ':' || batches FROM fact_version"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A period's facts as of one database snapshot. `version` names the facts of what the
    period involves; `stored` all facts stored (it moves with every batch). `facts` is None
    when the caller already holds the facts of these versions."""

    stored: str
    version: str
    facts: Facts | None


async def load_period(
    pool: asyncpg.Pool,
    period: Period,
    *,
    churn: bool = False,
    unless: tuple[str, str] | None = None,
) -> Snapshot:
    """The period's facts in one read-only snapshot (the consumer commits between statements
    otherwise, and a visit could miss the customer it names); not loaded when `unless`, the
    (stored, version) the caller holds, is still current: no fact stored since, or none that
    the period involves."""
    async with pool.acquire() as c, c.transaction(isolation="repeatable_read", readonly=True):
        conn = cast(asyncpg.Connection, c)
        stored = await conn.fetchval(_GLOBAL_VERSION)
        if unless is not None and unless[0] == stored:
            return Snapshot(stored, unless[1], None)
        visit_ids, issue_ids = await involved(conn, period, churn=churn)
        counts = await conn.fetchrow(_VERSION, visit_ids, issue_ids)
        assert counts is not None  # an aggregate without GROUP BY: always one row
        digest = hashlib.sha256()
        for ids in (visit_ids, issue_ids):
            digest.update("\n".join(ids).encode())
            digest.update(b"\0")
        version = f"{digest.hexdigest()}:{counts[0]}:{counts[1]}:{counts[2]}"
        if unless is not None and unless[1] == version:
            return Snapshot(stored, version, None)
        return Snapshot(stored, version, await load_entities(conn, visit_ids, issue_ids))


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
    """The domain's facts from stored rows (the inverse of the *_row functions)."""
    profiles: dict[str, set[Profile]] = defaultdict(set)
    for r in customer_rows:
        profiles[r["customer_id"]].add(Profile(r["at"], r["tier"], r["region"], r["timezone"]))
    customers = {cid: CustomerFacts(cid, frozenset(ps)) for cid, ps in profiles.items()}
    return Facts(customers, _visits(visit_rows), _issues(issue_rows))


# Most facts of an entity are empty sets (no move, no pause): one shared empty frozenset.
_EMPTY: frozenset[Any] = frozenset()


def _visits(rows: Iterable[Any]) -> dict[str, VisitFacts]:
    parts: dict[str, tuple[str, list[set[Any]]]] = {}
    for r in rows:
        vid = r["visit_id"]
        if vid not in parts:
            parts[vid] = (r["customer_id"], [set(), set(), set(), set()])
        dues, moves, logs, checks = parts[vid][1]
        kind = r["kind"]
        if kind == "due":
            dues.add(
                DueFact(
                    r["attempt"],
                    r["at"],
                    r["deadline"],
                    r["agent_id"],
                    frozenset(r["kinds"] or ()),
                    r["issue_id"],
                )
            )
        elif kind == "move":
            moves.add(DeadlineMove(r["at"], r["deadline"]))
        elif kind == "log":
            logs.add(LogFact(r["at"], r["agent_id"], r["outcome"], r["satisfaction"]))
        else:
            checks.add(CheckFact(r["at"], r["agent_id"], r["result"]))
    return {
        vid: VisitFacts(vid, cid, *(frozenset(s) if s else _EMPTY for s in sets))
        for vid, (cid, sets) in parts.items()
    }


_ISSUE_PARTS = (
    "raise",
    "assign",
    "resolve",
    "reopen",
    "close",
    "breach",
    "handover_move",
    "pause",
    "resume",
)


def _issue_fact(r: Any) -> object:
    kind = r["kind"]
    if kind == "raise":
        return RaisedFact(
            r["at"],
            r["category"],
            r["severity"],
            r["source"],
            r["department"],
            r["handover_by"],
            r["respond_by"],
            r["resolve_by"],
            r["timezone"],
        )
    if kind == "assign":
        return AssignmentFact(r["at"], r["agent_id"], r["department"])
    if kind == "resolve":
        return ResolutionFact(r["at"], r["resolve_by"], r["paused_seconds"])
    if kind in ("reopen", "close"):
        return r["at"]
    if kind == "breach":
        return BreachFact(r["clock"], r["round"], r["at"], r["department"], r["agent_id"])
    if kind == "handover_move":
        return HandoverMove(r["at"], r["handover_by"])
    return (r["pause_no"], r["at"])


def _issues(rows: Iterable[Any]) -> dict[str, IssueFacts]:
    parts: dict[str, tuple[str, dict[str, set[Any]]]] = {}
    for r in rows:
        iid = r["issue_id"]
        if iid not in parts:
            parts[iid] = (r["customer_id"], {k: set() for k in _ISSUE_PARTS})
        parts[iid][1][r["kind"]].add(_issue_fact(r))
    return {
        iid: IssueFacts(
            iid, cid, *(frozenset(s) if (s := sets[k]) else _EMPTY for k in _ISSUE_PARTS)
        )
        for iid, (cid, sets) in parts.items()
    }
