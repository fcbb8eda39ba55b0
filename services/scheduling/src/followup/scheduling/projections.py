"""Scheduling's read-model SQL: customer facts, the plan, and the due sweep."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from followup.scheduling.domain import (
    CustomerFacts,
    Delivery,
    PlannedVisit,
    Profile,
    ResolvedIssue,
    StoredVisit,
)


async def load_customer_facts(
    conn: asyncpg.Connection, customer_id: str, default_timezone: str
) -> CustomerFacts | None:
    """Everything the policy needs about one customer, locked for the re-plan."""
    row = await conn.fetchrow(
        """SELECT tier, timezone, intent_signed_at, project_started_at
           FROM customer WHERE customer_id = $1 FOR UPDATE""",
        customer_id,
    )
    if row is None:
        return None
    tz = row["timezone"] or default_timezone
    tier = row["tier"] or "bronze"
    deliveries = await conn.fetch(
        "SELECT order_id, delivered_at, tier FROM delivery WHERE customer_id = $1", customer_id
    )
    issues = await conn.fetch(
        "SELECT issue_id, resolved_at FROM resolved_issue WHERE customer_id = $1", customer_id
    )
    return CustomerFacts(
        customer_id=customer_id,
        tier=tier,
        timezone=tz,
        deliveries=tuple(
            Delivery(customer_id, d["order_id"], d["delivered_at"], d["tier"], tz)
            for d in deliveries
        ),
        intent_signed_at=row["intent_signed_at"],
        project_started_at=row["project_started_at"],
        resolved_issues=tuple(ResolvedIssue(i["issue_id"], i["resolved_at"]) for i in issues),
    )


# -- Set-based reads and writes for a whole batch of customers --------------------------------


async def lock_customers(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> tuple[dict[str, Profile], dict[str, datetime | None]]:
    """The customers that have a row, locked for the re-plan: their Profile and how far their
    stored plan reaches. The others are new: save_customers writes their rows.

    Locked in id order, so two transactions touching the same customers never deadlock. A
    new customer is not locked: their row is written with a COPY at the end, which fails the
    whole batch on the key if another transaction wrote it meanwhile (the consumer then
    retries the batch's events one at a time, when the row exists). Writing each new row once,
    complete, instead of an empty row to lock and an update, halves what a new customer costs.
    """
    rows = await conn.fetch(
        """SELECT customer_id, tier, segment, timezone, profile_at, region, account_manager_id,
                  intent_signed_at, project_started_at, planned_until
           FROM customer WHERE customer_id = ANY($1::text[])
           ORDER BY customer_id FOR UPDATE""",
        customer_ids,
    )
    profiles = {
        r[0]: Profile(
            tier=r[1],
            segment=r[2],
            timezone=r[3],
            profile_at=r[4],
            region=r[5],
            account_manager_id=r[6],
            intent_signed_at=r[7],
            project_started_at=r[8],
        )
        for r in rows
    }
    return profiles, {r[0]: r[9] for r in rows}


async def customers_stored_short(
    conn: asyncpg.Connection, before: datetime, limit: int = 500
) -> list[str]:
    """Customers whose stored plan ends before `before` (the index on planned_until)."""
    rows = await conn.fetch(
        """SELECT customer_id FROM customer WHERE planned_until < $1
           ORDER BY planned_until, customer_id LIMIT $2""",
        before,
        limit,
    )
    return [r[0] for r in rows]


async def planned_until(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, datetime | None]:
    """How far these customers' stored plans reach."""
    rows = await conn.fetch(
        "SELECT customer_id, planned_until FROM customer WHERE customer_id = ANY($1::text[])",
        customer_ids,
    )
    return {r[0]: r[1] for r in rows}


async def stored_until(conn: asyncpg.Connection, customer_id: str) -> tuple[bool, datetime | None]:
    """Whether the customer is known, and how far their stored plan reaches."""
    row = await conn.fetchrow(
        "SELECT planned_until FROM customer WHERE customer_id = $1", customer_id
    )
    return (False, None) if row is None else (True, row[0])


async def load_deliveries(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, dict[str, datetime]]:
    """customer -> order -> delivered_at."""
    out: dict[str, dict[str, datetime]] = {}
    for r in await conn.fetch(
        """SELECT customer_id, order_id, delivered_at FROM delivery
           WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    ):
        out.setdefault(r[0], {})[r[1]] = r[2]
    return out


async def load_resolved_issues(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, dict[str, datetime]]:
    """customer -> issue -> resolved_at."""
    out: dict[str, dict[str, datetime]] = {}
    for r in await conn.fetch(
        """SELECT customer_id, issue_id, resolved_at FROM resolved_issue
           WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    ):
        out.setdefault(r[0], {})[r[1]] = r[2]
    return out


async def insert_deliveries(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, datetime, str, str, str]]
) -> None:
    """(customer_id, order_id, delivered_at, product, tier, event_id): new orders of locked
    (or new) customers, with one COPY (text format, as the plan's visits)."""
    if not rows:
        return
    text = "".join(_copy_row((c, o, at.isoformat(), p, t, e)) for c, o, at, p, t, e in rows)
    await conn.copy_to_table(
        "delivery",
        source=_one_chunk(text.encode()),
        columns=("customer_id", "order_id", "delivered_at", "product", "tier", "event_id"),
        format="text",
    )


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upsert_resolved_issues(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, datetime]]
) -> None:
    """(issue_id, customer_id, resolved_at); the latest resolution of an issue counts."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO resolved_issue (issue_id, customer_id, resolved_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
        ON CONFLICT (issue_id) DO UPDATE SET
            resolved_at = GREATEST(resolved_issue.resolved_at, EXCLUDED.resolved_at)
        """,
        *(list(col) for col in zip(*rows, strict=True)),
    )


async def save_customers(
    conn: asyncpg.Connection,
    profiles: dict[str, Profile],
    planned_until: dict[str, datetime | None],
    now: datetime,
    new: Collection[str] = (),
) -> None:
    """Writes the customers' folded profiles and how far their plans reach: the rows of the
    `new` ones (see lock_customers), with a COPY; the others' (locked) rows, updated."""
    if new:
        await _copy_customers(conn, profiles, planned_until, now, new)
    ids = [c for c in profiles if c not in new] if new else list(profiles)
    if not ids:
        return
    ps = [profiles[i] for i in ids]
    await conn.execute(
        """
        UPDATE customer c SET tier = u.tier, segment = u.segment, timezone = u.timezone,
               profile_at = u.profile_at, region = u.region,
               account_manager_id = u.account_manager_id,
               intent_signed_at = u.intent_signed_at, project_started_at = u.project_started_at,
               planned_until = u.planned_until, updated_at = $11
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                    $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                    $10::timestamptz[])
             AS u(customer_id, tier, segment, timezone, profile_at, region, account_manager_id,
                  intent_signed_at, project_started_at, planned_until)
        WHERE c.customer_id = u.customer_id
        """,
        ids,
        [p.tier for p in ps],
        [p.segment for p in ps],
        [p.timezone for p in ps],
        [p.profile_at for p in ps],
        [p.region for p in ps],
        [p.account_manager_id for p in ps],
        [p.intent_signed_at for p in ps],
        [p.project_started_at for p in ps],
        [planned_until.get(i) for i in ids],
        now,
    )


_CUSTOMER_COLUMNS = (
    "customer_id",
    "tier",
    "segment",
    "timezone",
    "profile_at",
    "region",
    "account_manager_id",
    "intent_signed_at",
    "project_started_at",
    "planned_until",
    "updated_at",
)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


async def _copy_customers(
    conn: asyncpg.Connection,
    profiles: dict[str, Profile],
    planned_until: dict[str, datetime | None],
    now: datetime,
    ids: Collection[str],
) -> None:
    """New customers' rows, with one COPY (text format)."""
    updated = now.isoformat()
    lines = []
    for c in ids:
        p = profiles[c]
        lines.append(
            _copy_row(
                (
                    c,
                    p.tier,
                    p.segment,
                    p.timezone,
                    _iso(p.profile_at),
                    p.region,
                    p.account_manager_id,
                    _iso(p.intent_signed_at),
                    _iso(p.project_started_at),
                    _iso(planned_until.get(c)),
                    updated,
                )
            )
        )
    await conn.copy_to_table(
        "customer",
        source=_one_chunk("".join(lines).encode()),
        columns=_CUSTOMER_COLUMNS,
        format="text",
    )


async def load_plans(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, list[StoredVisit]]:
    """Every stored visit of these customers (the rows were locked with their customer)."""
    out: dict[str, list[StoredVisit]] = {}
    for r in await conn.fetch(
        """SELECT visit_id, customer_id, order_id, kinds, due_at, deadline,
                  deadline_provisional, attempt, issue_id, reason, sources, status
           FROM planned_visit WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    ):
        out.setdefault(r["customer_id"], []).append(StoredVisit(stored_visit(r), r["status"]))
    return out


def stored_visit(row: asyncpg.Record) -> PlannedVisit:
    """A planned_visit row as the policy's PlannedVisit."""
    return PlannedVisit(
        visit_id=row["visit_id"],
        customer_id=row["customer_id"],
        order_id=row["order_id"],
        kinds=tuple(row["kinds"]),
        due_at=row["due_at"],
        deadline=row["deadline"],
        deadline_provisional=row["deadline_provisional"],
        reason=row["reason"],
        attempt=row["attempt"],
        issue_id=row["issue_id"],
        sources=tuple(row["sources"]),
    )


_PLAN_COLUMNS = (
    "visit_id",
    "customer_id",
    "order_id",
    "kinds",
    "due_at",
    "deadline",
    "deadline_provisional",
    "attempt",
    "issue_id",
    "reason",
    "sources",
    "created_at",
)


# COPY's text format: these four are escaped in a value, and in an array element also the
# quote (every element is quoted).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_NEEDS_ESCAPE = re.compile(r'[\\\t\n\r"]').search
_NULL = "\\N"
_COPY_CHUNK = 256  # lines sent to PostgreSQL at a time


def _copy_value(value: str | None) -> str:
    """A text value (or NULL) as COPY's text format writes it."""
    return _NULL if value is None else value.translate(_COPY_ESCAPES)


def _copy_row(values: Sequence[str | None]) -> str:
    """One row of text values (or NULLs) as COPY's text format writes it, with its newline."""
    if _NEEDS_ESCAPE("".join([v for v in values if v is not None])) is None:
        # Nearly always (ids, tiers, zones, ISO times): nothing to escape.
        return "\t".join([_NULL if v is None else v for v in values]) + "\n"
    return "\t".join([_copy_value(v) for v in values]) + "\n"


def _copy_array(items: Sequence[str]) -> str:
    """A text[] literal, every element quoted, as COPY's text format writes it."""
    if not items:
        return "{}"
    return _copy_value('{"' + '","'.join(i.translate(_ARRAY_ESCAPES) for i in items) + '"}')


def _copy_line(v: PlannedVisit, due: str, deadline: str, created: str) -> str:
    """One planned_visit row in COPY's text format (the columns of _PLAN_COLUMNS)."""
    order, issue, kinds, sources = v.order_id, v.issue_id, v.kinds, v.sources
    text = "".join(
        (v.visit_id, v.customer_id, order or "", issue or "", v.reason, *kinds, *sources)
    )
    if kinds and sources and _NEEDS_ESCAPE(text) is None:
        # Nearly always (ids, kinds, reasons and ISO times): nothing to escape.
        values = (
            v.visit_id,
            v.customer_id,
            _NULL if order is None else order,
            '{"' + '","'.join(kinds) + '"}',
            due,
            deadline,
            "t" if v.deadline_provisional else "f",
            str(v.attempt),
            _NULL if issue is None else issue,
            v.reason,
            '{"' + '","'.join(sources) + '"}',
            created,
        )
    else:
        values = (
            _copy_value(v.visit_id),
            _copy_value(v.customer_id),
            _copy_value(order),
            _copy_array(kinds),
            due,
            deadline,
            "t" if v.deadline_provisional else "f",
            str(v.attempt),
            _copy_value(issue),
            _copy_value(v.reason),
            _copy_array(sources),
            created,
        )
    return "\t".join(values) + "\n"


async def insert_visits(
    conn: asyncpg.Connection,
    visits: AsyncIterable[Sequence[PlannedVisit]],
    now: datetime,
) -> None:
    """Stores new visits, given a few at a time, with one COPY fed while they are planned.

    New visits are most of what a batch writes. Streaming them means PostgreSQL (on its own
    core) stores the first rows while Python still plans the next customers, instead of the
    two taking turns. Their ids are new: the customers are locked and their stored visits were
    read after the lock. The rows go in COPY's text format, written here from the ISO times
    the planner already has: asyncpg's binary encoding of the same rows (text arrays,
    zone-aware times) cost Python several times more than PostgreSQL's parsing of the text.
    """
    created = now.isoformat()
    # Visits share deadlines (same day, same zone): each one formatted once per batch. Keyed by
    # the instant, which is all that is stored.
    deadlines: dict[datetime, str] = {}

    async def chunks() -> AsyncIterator[bytes]:
        lines: list[str] = []
        async for some in visits:
            for v in some:
                deadline = deadlines.get(v.deadline)
                if deadline is None:
                    deadline = deadlines[v.deadline] = v.deadline.isoformat()
                lines.append(_copy_line(v, v.due_iso or v.due_at.isoformat(), deadline, created))
            if len(lines) >= _COPY_CHUNK:
                yield "".join(lines).encode()
                lines.clear()
        if lines:
            yield "".join(lines).encode()

    await conn.copy_to_table("planned_visit", source=chunks(), columns=_PLAN_COLUMNS, format="text")


async def update_visits(conn: asyncpg.Connection, visits: Sequence[PlannedVisit]) -> None:
    """Re-planned open visits take their new kinds, deadline and reason (never a published one)."""
    if not visits:
        return
    await conn.executemany(
        """
        UPDATE planned_visit SET kinds = $2, deadline = $3, deadline_provisional = $4,
               reason = $5, sources = $6, order_id = $7, issue_id = $8
        WHERE visit_id = $1 AND status = 'planned'
        """,
        [
            (
                v.visit_id,
                list(v.kinds),
                v.deadline,
                v.deadline_provisional,
                v.reason,
                list(v.sources),
                v.order_id,
                v.issue_id,
            )
            for v in visits
        ],
    )


async def delete_visits(conn: asyncpg.Connection, visit_ids: Sequence[str]) -> None:
    """Drops open visits the policy no longer asks for (never a published one)."""
    if not visit_ids:
        return
    await conn.execute(
        "DELETE FROM planned_visit WHERE visit_id = ANY($1::text[]) AND status = 'planned'",
        visit_ids,
    )


# -- Statistics of fast-growing tables ----------------------------------------------------------

# The tables every batch reads by customer. Filled from empty at ingest speed (a new service, or
# a replay into fresh tables), their statistics say "tiny" long before autovacuum's next look:
# the planner then reads them with sequential scans, a `customer_id = ANY(<500 ids>)` comparing
# every row with every id, and each batch costs more than the one before.
GROWING_TABLES = ("planned_visit", "delivery", "customer")


async def analyze_grown_tables(conn: asyncpg.Connection) -> list[str]:
    """ANALYZEs the tables of GROWING_TABLES now more than twice the size PostgreSQL last
    counted (and over 128 kB); returns their names.

    Doubling keeps it to a few runs over any table's life. Only the column the batches read by
    is analyzed: what matters is the table's size (which any ANALYZE records), and statistics
    on the plan's arrays would cost several times more; autovacuum does the full job later.
    SKIP_LOCKED: a table another transaction is analyzing is left to it.
    """
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_class c
        WHERE c.oid = ANY($1::text[]::regclass[])
          AND pg_relation_size(c.oid) / current_setting('block_size')::int
              > 2 * greatest(c.relpages, 0) + 16
        """,
        list(GROWING_TABLES),
    )
    grown = [r[0] for r in rows]
    if grown:
        # A 3,000-row sample is plenty to tell a large table from a small one.
        await conn.execute("SET LOCAL default_statistics_target = 10")
        for table in grown:
            await conn.execute(f"ANALYZE (SKIP_LOCKED) {table} (customer_id)")
        await conn.execute("SET LOCAL default_statistics_target TO DEFAULT")
    return grown


# -- Official calendar data loaded later --------------------------------------------------------


async def load_calendar_years(conn: asyncpg.Connection, region: str) -> dict[int, str]:
    """The official years (and their digests) the stored deadlines were counted on."""
    rows = await conn.fetch(
        "SELECT year, fingerprint FROM calendar_year WHERE region = $1 FOR UPDATE", region
    )
    return {r["year"]: r["fingerprint"] for r in rows}


async def save_calendar_years(
    conn: asyncpg.Connection, region: str, fingerprints: dict[int, str]
) -> None:
    """Records the official years the deadlines are now counted on."""
    await conn.execute("DELETE FROM calendar_year WHERE region = $1", region)
    await conn.execute(
        """INSERT INTO calendar_year (region, year, fingerprint)
           SELECT $1, * FROM unnest($2::int[], $3::text[])""",
        region,
        list(fingerprints),
        list(fingerprints.values()),
    )


async def customers_with_open_visits(
    conn: asyncpg.Connection, *, since: datetime | None, until: datetime | None
) -> list[str]:
    """Customers with a visit not done whose deadline is provisional or, when a window is
    given, whose due-to-deadline span touches it."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT customer_id FROM planned_visit
        WHERE status <> 'done'
          AND (deadline_provisional
               OR ($1::timestamptz IS NOT NULL AND deadline >= $1 AND due_at < $2))
        ORDER BY customer_id
        """,
        since,
        until,
    )
    return [r[0] for r in rows]


async def set_deadlines(
    conn: asyncpg.Connection, changes: Sequence[tuple[str, datetime, bool]], now: datetime
) -> None:
    """New deadlines of open visits; a missed visit whose deadline is ahead again is due again.

    Done visits are never touched.
    """
    if not changes:
        return
    ids, deadlines, provisional = (list(col) for col in zip(*changes, strict=True))
    await conn.execute(
        """
        UPDATE planned_visit p SET deadline = u.deadline,
               deadline_provisional = u.provisional,
               status = CASE WHEN p.status = 'missed' AND u.deadline >= $4 THEN 'due'
                             ELSE p.status END
        FROM unnest($1::text[], $2::timestamptz[], $3::bool[]) AS u(visit_id, deadline, provisional)
        WHERE p.visit_id = u.visit_id AND p.status <> 'done'
        """,
        ids,
        deadlines,
        provisional,
        now,
    )


async def load_visit(conn: asyncpg.Connection, visit_id: str) -> asyncpg.Record | None:
    """One visit row, locked."""
    return await conn.fetchrow(
        "SELECT * FROM planned_visit WHERE visit_id = $1 FOR UPDATE", visit_id
    )


async def reschedule_visit(conn: asyncpg.Connection, visit: PlannedVisit) -> None:
    """A retry: the same visit, planned again with its next attempt."""
    await conn.execute(
        """UPDATE planned_visit SET kinds = $2, due_at = $3, deadline = $4,
                  deadline_provisional = $5, attempt = $6, reason = $7, status = 'planned'
           WHERE visit_id = $1 AND attempt < $6""",
        visit.visit_id,
        list(visit.kinds),
        visit.due_at,
        visit.deadline,
        visit.deadline_provisional,
        visit.attempt,
        visit.reason,
    )


async def take_due_visits(
    conn: asyncpg.Connection, now: datetime, limit: int = 10000
) -> list[asyncpg.Record]:
    """Planned visits whose due time has come, marked `due` in the same statement."""
    return await conn.fetch(
        """
        UPDATE planned_visit SET status = 'due'
        WHERE visit_id IN (
            SELECT visit_id FROM planned_visit
            WHERE status = 'planned' AND due_at <= $1
            ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING visit_id, customer_id, order_id, kinds, due_at, deadline, attempt, issue_id,
                  agent_id, reason
        """,
        now,
        limit,
    )


async def mark_visits_missed(conn: asyncpg.Connection, now: datetime) -> int:
    """Due visits whose deadline passed without a completed log become `missed`."""
    status = await conn.execute(
        "UPDATE planned_visit SET status = 'missed' WHERE status = 'due' AND deadline < $1", now
    )
    return int(status.split()[-1])


async def mark_visit_done(conn: asyncpg.Connection, visit_id: str) -> None:
    """A completed VisitLogged closes the visit."""
    await conn.execute("UPDATE planned_visit SET status = 'done' WHERE visit_id = $1", visit_id)


async def customer_plan(conn: asyncpg.Connection, customer_id: str) -> dict[str, Any] | None:
    """The customer and every visit of their plan, by due time."""
    customer = await conn.fetchrow(
        "SELECT customer_id, tier, segment, timezone, region FROM customer WHERE customer_id = $1",
        customer_id,
    )
    if customer is None:
        return None
    visits = await conn.fetch(
        """
        SELECT visit_id, order_id, kinds, due_at, deadline, deadline_provisional, attempt,
               issue_id, status, reason
        FROM planned_visit WHERE customer_id = $1 ORDER BY due_at, visit_id
        """,
        customer_id,
    )
    return {**dict(customer), "visits": [dict(v) for v in visits]}


async def list_planned_visits(
    conn: asyncpg.Connection,
    *,
    start: datetime | None,
    end: datetime | None,
    kind: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Planned visits by due time, keyset-paginated."""
    return await conn.fetch(
        """
        SELECT visit_id, customer_id, order_id, kinds, due_at, deadline, deadline_provisional,
               attempt, issue_id, status, reason
        FROM planned_visit
        WHERE ($1::timestamptz IS NULL OR due_at >= $1)
          AND ($2::timestamptz IS NULL OR due_at < $2)
          AND ($3::text IS NULL OR $3 = ANY(kinds))
          AND ($4::text IS NULL OR status = $4)
          AND ($5::timestamptz IS NULL OR (due_at, visit_id) > ($5, $6))
        ORDER BY due_at, visit_id
        LIMIT $7
        """,
        start,
        end,
        kind,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
