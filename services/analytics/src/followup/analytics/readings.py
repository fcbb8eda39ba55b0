"""Answers read from the incremental aggregates (aggregates.py), in one read-only snapshot.

A period's KPIs are sums over its `kpi_item` rows per group, and its times the nearest-rank
values of their durations, in SQL. Rows hold each entity's items as of everything stored;
an entity with an instant after the asked `as_of` (unsettled: rare, as `as_of` is the
service's now) is left out of the sums and its items are computed from its facts at `as_of`
and added. The answer equals the fold's (tests/integration/test_aggregates_match_fold.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import asyncpg

from followup.analytics import projections
from followup.analytics.aggregates import DAY_ZONE, FOLLOW_UPS_OF, ISSUES_OF, VISITS_OF
from followup.analytics.domain.churn import ChurnSignal, churn_signals
from followup.analytics.domain.groups import Grouping, GroupKey
from followup.analytics.domain.issues import follow_up_visits
from followup.analytics.domain.items import GROUPINGS, Item, issue_items, visit_items
from followup.analytics.domain.model import CustomerFacts
from followup.analytics.domain.period import Percentiles, Period, Ratio
from followup.analytics.domain.views import Ratios, Times
from followup.core.db import Conn

# The item kinds behind each KPI of views.RATIOS and views.TIMES.
RATIO_KPIS = {
    "satisfaction": "satisfaction_rate",
    "on_time": "visit_on_time_rate",
    "sla_handover": "handover_sla_met_rate",
    "sla_first_response": "first_response_sla_met_rate",
    "sla_resolution": "resolution_sla_met_rate",
    "resolution": "resolution_rate",
    "closure": "closure_rate",
    "return_complaint": "complaint_return_visit_rate",
    "return_repair": "repair_return_visit_rate",
}
TIME_KPIS = {
    "response": ("visit_response_time",),
    "handover": ("handover_time", "first_response_time"),
    "resolution_time": ("resolution_time",),
}
_SETTLED = "(settled_at IS NULL OR settled_at <= $3)"
_DAY_TZ = ZoneInfo(DAY_ZONE)
# The on-time rate counts a deadline once it has passed (`deadline < as_of`).
_IN_PERIOD = f"at >= $1 AND at < $2 AND {_SETTLED} AND (kpi <> 'on_time' OR at < $3)"


def _key(grouping: Grouping) -> str:
    return "'all'" if grouping == "all" else f"k_{grouping}"


def _item_key(item: Item, grouping: Grouping) -> GroupKey:
    return "all" if grouping == "all" else item.keys[GROUPINGS.index(grouping)]


def _hours(us: int) -> float:
    return timedelta(microseconds=us).total_seconds() / 3600


def _rank(p: int, n: int) -> int:
    return max(1, math.ceil(p * n / 100))


def _rank_sql(p: int) -> str:
    """The nearest rank in SQL, in integers: ceil(p * n / 100), at least 1."""
    return f"greatest(1, ({p} * count(*) + 99) / 100)::int"


@dataclass(frozen=True, slots=True)
class Loose:
    """What the unsettled entities contribute at `as_of`, and which they are."""

    visit_ids: list[str]
    issue_ids: list[str]
    items: list[tuple[str, Item]]  # (entity id, item)


async def _loose(conn: Conn, as_of: datetime) -> Loose:
    rows = await conn.fetch(
        "SELECT entity, entity_id FROM kpi_entity WHERE settled_at > $1 AND entity <> 'customer'",
        as_of,
    )
    visit_ids = sorted(r[1] for r in rows if r[0] == "visit")
    issue_ids = sorted(r[1] for r in rows if r[0] == "issue")
    if not rows:
        return Loose([], [], [])
    follow_ups = {r[0] for r in await conn.fetch(FOLLOW_UPS_OF, issue_ids)} if issue_ids else set()
    facts = await projections.load_entities(conn, sorted({*visit_ids, *follow_ups}), issue_ids)
    items: list[tuple[str, Item]] = []
    for vid in visit_ids:
        items += [(vid, i) for i in visit_items(facts, facts.visits[vid], as_of)]
    by_issue = follow_up_visits(facts)
    for iid in issue_ids:
        issue = facts.issues[iid]
        items += [(iid, i) for i in issue_items(facts, issue, by_issue.get(iid, []), as_of)]
    return Loose(visit_ids, issue_ids, items)


def _loose_in(loose: Loose, kpi: str, period: Period, as_of: datetime) -> list[tuple[str, Item]]:
    return [
        (eid, i)
        for eid, i in loose.items
        if i.kpi == kpi and period.holds(i.at) and (kpi != "on_time" or i.at < as_of)
    ]


def _whole_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The days [lo, hi) of DAY_ZONE that lie wholly in [start, end) (lo >= hi: none)."""
    first, last = start.astimezone(_DAY_TZ), end.astimezone(_DAY_TZ)
    lo = first.date() if first == _midnight(first.date()) else first.date() + timedelta(days=1)
    return lo, last.date()


def _spans(lo: date, hi: date, days: str, months: str) -> list[tuple[str, date, date]]:
    """The whole days [lo, hi) as (table, from, to): whole months from the months' table
    (rows keyed by the month's first day), the other days from the days'."""
    if lo >= hi:
        return []
    first = lo if lo.day == 1 else date(lo.year + lo.month // 12, lo.month % 12 + 1, 1)
    last = hi.replace(day=1)
    if first >= last:
        return [(days, lo, hi)]
    spans = [(days, lo, first), (months, first, last), (days, last, hi)]
    return [s for s in spans if s[1] < s[2]]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=_DAY_TZ)


async def _ratios(
    conn: Conn, period: Period, as_of: datetime, grouping: Grouping, loose: Loose
) -> dict[str, dict[GroupKey, Ratio]]:
    counts: dict[str, dict[GroupKey, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    # Whole days from kpi_day (the on-time rate's only up to as_of: a deadline counts once
    # passed), the rest of the period from kpi_item; the unsettled entities' rows in those
    # days taken out again (their items at as_of come from `loose`).
    days = {"other": _whole_days(period.start, period.end)}
    days["on_time"] = _whole_days(period.start, min(period.end, max(as_of, period.start)))
    windows: dict[str, tuple[datetime, datetime]] = {}
    for which, (lo, hi) in days.items():
        kpis = ["on_time"] if which == "on_time" else [k for k in RATIO_KPIS if k != "on_time"]
        if lo >= hi:
            windows[which] = (period.start, period.start)
            continue
        windows[which] = (_midnight(lo), _midnight(hi))
        for table, span_lo, span_hi in _spans(lo, hi, "kpi_day", "kpi_month"):
            for kpi, key, hits, n in await conn.fetch(
                f"SELECT kpi, key, sum(hits)::bigint, sum(n)::bigint FROM {table} "
                "WHERE grouping = $1 AND kpi = ANY($2::text[]) AND day >= $3 AND day < $4 "
                "GROUP BY 1, 2",
                grouping,
                kpis,
                span_lo,
                span_hi,
            ):
                counts[kpi][key][0] += hits
                counts[kpi][key][1] += n
    others = [k for k in RATIO_KPIS if k != "on_time"]
    for kpis, (w_lo, w_hi) in ((others, windows["other"]), (["on_time"], windows["on_time"])):
        # The partial days before and after the whole ones, settled rows: index range scans.
        for lo, hi in ((period.start, w_lo), (w_hi if w_hi > w_lo else period.start, period.end)):
            if lo >= hi:
                continue
            for kpi, key, hits, n in await conn.fetch(
                f"""SELECT kpi, {_key(grouping)}, count(*) FILTER (WHERE hit), count(*)
                    FROM kpi_item WHERE kpi = ANY($4::text[]) AND at >= $1 AND at < $2
                      AND {_SETTLED} AND (kpi <> 'on_time' OR at < $3) GROUP BY 1, 2""",
                lo,
                hi,
                as_of,
                kpis,
            ):
                counts[kpi][key][0] += hits
                counts[kpi][key][1] += n
        # The unsettled entities' rows in the whole days, counted there: taken out again.
        if w_lo < w_hi and (loose.visit_ids or loose.issue_ids):
            for kpi, key, hits, n in await conn.fetch(
                f"""SELECT kpi, {_key(grouping)}, count(*) FILTER (WHERE hit), count(*)
                    FROM kpi_item WHERE entity_id = ANY($3::text[]) AND kpi = ANY($4::text[])
                      AND at >= $1 AND at < $2 AND settled_at > $5 GROUP BY 1, 2""",
                w_lo,
                w_hi,
                [*loose.visit_ids, *loose.issue_ids],
                kpis,
                as_of,
            ):
                counts[kpi][key][0] -= hits
                counts[kpi][key][1] -= n
    for kpi in RATIO_KPIS:
        for _, item in _loose_in(loose, kpi, period, as_of):
            tally = counts[kpi][_item_key(item, grouping)]
            tally[0] += int(bool(item.hit))
            tally[1] += 1
    # Spot checks: per visit, its latest check in the period (visits.spot_check_pass_rate).
    rows = await conn.fetch(
        f"""SELECT key, count(*) FILTER (WHERE hit), count(*) FROM (
                SELECT DISTINCT ON (entity_id) {_key(grouping)} AS key, hit FROM kpi_item
                WHERE kpi = 'check' AND {_IN_PERIOD}
                ORDER BY entity_id, at DESC, k_agent COLLATE "C" DESC, detail COLLATE "C" DESC
            ) latest GROUP BY 1""",
        period.start,
        period.end,
        as_of,
    )
    checks: dict[GroupKey, list[int]] = defaultdict(lambda: [0, 0])
    for key, hits, n in rows:
        checks[key] = [hits, n]
    latest: dict[str, Item] = {}
    for eid, item in _loose_in(loose, "check", period, as_of):
        held = latest.get(eid)
        if held is None or (item.at, item.keys[2] or "", item.detail or "") > (
            held.at,
            held.keys[2] or "",
            held.detail or "",
        ):
            latest[eid] = item
    for item in latest.values():
        tally = checks[_item_key(item, grouping)]
        tally[0] += int(bool(item.hit))
        tally[1] += 1
    # A group whose rows all cancelled out has no item: it is not a group of the answer.
    answer = {
        RATIO_KPIS[k]: {key: Ratio(h, n) for key, (h, n) in v.items() if n}
        for k, v in counts.items()
    }
    if checks:
        answer["spot_check_pass_rate"] = {key: Ratio(h, n) for key, (h, n) in checks.items()}
    return answer


_HOUR_US = 3_600_000_000


def _bucket(us: int) -> int:
    """The hour of a duration as SQL's bucket column has it (truncated toward zero)."""
    hours = abs(us) // _HOUR_US
    return hours if us >= 0 else -hours


def _find(buckets: dict[int, int], rank: int) -> tuple[int, int]:
    """The bucket holding the rank-th smallest duration, and its rank within the bucket."""
    before = 0
    for bucket in sorted(buckets):
        if before + buckets[bucket] >= rank:
            return bucket, rank - before
        before += buckets[bucket]
    raise AssertionError("rank past the durations counted")


async def _times(
    conn: Conn, period: Period, as_of: datetime, grouping: Grouping, loose: Loose
) -> dict[str, dict[GroupKey, Percentiles]]:
    """Nearest-rank p50/p90 per group: the hour holding each rank from the counts per hour
    (whole days from kpi_dur_day, the rest from kpi_item, unsettled entities as `_ratios`
    does), then the exact durations of that hour."""
    lo, hi = _whole_days(period.start, period.end)
    window = (_midnight(lo), _midnight(hi)) if lo < hi else (period.start, period.start)
    counts: dict[tuple[str, GroupKey], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for table, span_lo, span_hi in _spans(lo, hi, "kpi_dur_day", "kpi_dur_month"):
        for kpi, key, bucket, n in await conn.fetch(
            f"SELECT kpi, key, bucket, sum(n)::bigint FROM {table} WHERE grouping = $1 "
            "AND kpi = ANY($2::text[]) AND day >= $3 AND day < $4 GROUP BY 1, 2, 3",
            grouping,
            list(TIME_KPIS),
            span_lo,
            span_hi,
        ):
            counts[kpi, key][bucket] += n
    kpis = list(TIME_KPIS)
    for lo_at, hi_at in ((period.start, window[0]), (max(window[1], period.start), period.end)):
        if lo_at < hi_at:
            for kpi, key, bucket, n in await conn.fetch(
                f"""SELECT kpi, {_key(grouping)}, bucket, count(*) FROM kpi_item
                    WHERE kpi = ANY($4::text[]) AND at >= $1 AND at < $2
                      AND duration_us IS NOT NULL AND {_SETTLED} GROUP BY 1, 2, 3""",
                lo_at,
                hi_at,
                as_of,
                kpis,
            ):
                counts[kpi, key][bucket] += n
    if lo < hi and (loose.visit_ids or loose.issue_ids):
        for kpi, key, bucket, n in await conn.fetch(
            f"""SELECT kpi, {_key(grouping)}, bucket, count(*) FROM kpi_item
                WHERE entity_id = ANY($3::text[]) AND kpi = ANY($4::text[])
                  AND at >= $1 AND at < $2 AND duration_us IS NOT NULL AND settled_at > $5
                GROUP BY 1, 2, 3""",
            window[0],
            window[1],
            [*loose.visit_ids, *loose.issue_ids],
            kpis,
            as_of,
        ):
            counts[kpi, key][bucket] -= n
    extra: dict[tuple[str, GroupKey, int], list[int]] = defaultdict(list)
    for kpi in TIME_KPIS:
        for _, item in _loose_in(loose, kpi, period, as_of):
            assert item.duration is not None
            us = item.duration // timedelta(microseconds=1)
            key = _item_key(item, grouping)
            counts[kpi, key][_bucket(us)] += 1
            extra[kpi, key, _bucket(us)].append(us)
    wanted: dict[tuple[str, GroupKey], tuple[int, tuple[int, int], tuple[int, int]]] = {}
    for (kpi, key), buckets in counts.items():
        held = {b: n for b, n in buckets.items() if n}
        total = sum(held.values())
        if total:
            wanted[kpi, key] = (total, _find(held, _rank(50, total)), _find(held, _rank(90, total)))
    hours = sorted(
        {(kpi, key, b) for (kpi, key), (_, p50, p90) in wanted.items() for b, _ in (p50, p90)},
        key=str,
    )
    values: dict[tuple[str, GroupKey, int], list[int]] = {}
    if hours:
        for kpi, key, bucket, durations in await conn.fetch(
            f"""SELECT w.kpi, w.key, w.bucket, array_agg(duration_us ORDER BY duration_us)
                FROM unnest($4::text[], $5::text[], $6::bigint[]) AS w(kpi, key, bucket)
                JOIN kpi_item i ON i.kpi = w.kpi AND i.bucket = w.bucket
                 AND {_key(grouping)} IS NOT DISTINCT FROM w.key
                WHERE i.duration_us IS NOT NULL AND i.at >= $1 AND i.at < $2 AND {_SETTLED}
                GROUP BY 1, 2, 3""",
            period.start,
            period.end,
            as_of,
            [h[0] for h in hours],
            [h[1] for h in hours],
            [h[2] for h in hours],
        ):
            values[kpi, key, bucket] = list(durations)
    answer: dict[str, dict[GroupKey, Percentiles]] = defaultdict(dict)
    for (kpi, key), (total, (b50, r50), (b90, r90)) in wanted.items():
        picked = []
        for bucket, rank in ((b50, r50), (b90, r90)):
            ordered = sorted(values.get((kpi, key, bucket), []) + extra.get((kpi, key, bucket), []))
            picked.append(_hours(ordered[rank - 1]))
        for name in TIME_KPIS[kpi]:
            answer[name][key] = Percentiles(total, picked[0], picked[1])
    return dict(answer)


async def read_kpis(
    pool: asyncpg.Pool, period: Period, as_of: datetime, grouping: Grouping
) -> tuple[Ratios, Times]:
    """Every KPI of the period per group, as of `as_of`, from the aggregates."""
    async with pool.acquire() as c, c.transaction(isolation="repeatable_read", readonly=True):
        conn = cast(Conn, c)
        loose = await _loose(conn, as_of)
        return await _ratios(conn, period, as_of, grouping, loose), await _times(
            conn, period, as_of, grouping, loose
        )


async def _signals(
    conn: Conn, period: Period, as_of: datetime
) -> tuple[list[ChurnSignal], dict[str, CustomerFacts]]:
    """The churn signals fired in the period, by customer and time, and their customers."""
    unsettled = sorted(
        r[0]
        for r in await conn.fetch(
            "SELECT entity_id FROM kpi_entity WHERE entity = 'customer' AND settled_at > $1",
            as_of,
        )
    )
    rows = await conn.fetch(
        "SELECT customer_id, rule, at, evidence FROM churn_signal "
        "WHERE at >= $1 AND at < $2 AND at <= $3 AND NOT (customer_id = ANY($4::text[]))",
        period.start,
        period.end,
        as_of,
        unsettled,
    )
    signals = [ChurnSignal(r[0], r[1], r[2], tuple(r[3])) for r in rows]
    if unsettled:
        visit_ids = sorted(r[0] for r in await conn.fetch(VISITS_OF, unsettled))
        issue_ids = sorted(r[0] for r in await conn.fetch(ISSUES_OF, unsettled))
        facts = await projections.load_entities(conn, visit_ids, issue_ids)
        signals += churn_signals(facts, period, as_of)
    signals.sort(key=lambda s: (s.customer_id, s.at, s.rule, s.evidence))
    customers = await _customers(conn, {s.customer_id for s in signals})
    return signals, customers


async def _customers(conn: Conn, ids: Iterable[str]) -> dict[str, CustomerFacts]:
    rows = await conn.fetch(
        "SELECT customer_id, at, tier, region, timezone FROM customer_fact "
        "WHERE customer_id = ANY($1::text[])",
        sorted(ids),
    )
    return dict(projections.facts_from_rows(rows, [], []).customers)


async def read_at_risk(
    pool: asyncpg.Pool, period: Period, as_of: datetime
) -> tuple[list[ChurnSignal], dict[str, CustomerFacts]]:
    """The churn signals fired in the period as of `as_of`, with their customers' facts."""
    async with pool.acquire() as c, c.transaction(isolation="repeatable_read", readonly=True):
        return await _signals(cast(Conn, c), period, as_of)


@dataclass(frozen=True, slots=True)
class ReportReading:
    """What the monthly report is made of, read from the aggregates."""

    ratios: Ratios
    times: Times
    spot_checks: dict[GroupKey, Ratio]
    problems: dict[tuple[str, str], int]  # (category, severity): issues raised
    breaches: dict[tuple[str | None, str | None], int]  # (owner, department): breaches
    signals: list[ChurnSignal]
    customers: dict[str, CustomerFacts]


async def read_report(pool: asyncpg.Pool, period: Period, as_of: datetime) -> ReportReading:
    """The month's KPIs, spot checks per agent, problems, breaches and churn signals."""
    async with pool.acquire() as c, c.transaction(isolation="repeatable_read", readonly=True):
        conn = cast(Conn, c)
        loose = await _loose(conn, as_of)
        ratios = await _ratios(conn, period, as_of, "all", loose)
        times = await _times(conn, period, as_of, "all", loose)
        by_agent = await _ratios(conn, period, as_of, "agent", loose)
        problems: dict[tuple[str, str], int] = defaultdict(int)
        breaches: dict[tuple[str | None, str | None], int] = defaultdict(int)
        for kpi, a, b, n in await conn.fetch(
            f"""SELECT kpi, CASE kpi WHEN 'raised' THEN k_category ELSE k_agent END,
                       CASE kpi WHEN 'raised' THEN detail ELSE k_department END, count(*)
                FROM kpi_item WHERE kpi IN ('raised', 'breach') AND {_IN_PERIOD}
                GROUP BY 1, 2, 3""",
            period.start,
            period.end,
            as_of,
        ):
            if kpi == "raised":
                problems[a, b] += n
            else:
                breaches[a, b] += n
        for _, item in _loose_in(loose, "raised", period, as_of):
            problems[cast(str, item.keys[4]), cast(str, item.detail)] += 1
        for _, item in _loose_in(loose, "breach", period, as_of):
            breaches[item.keys[2], item.keys[3]] += 1
        signals, customers = await _signals(conn, period, as_of)
    return ReportReading(
        ratios,
        times,
        by_agent.get("spot_check_pass_rate", {}),
        dict(problems),
        dict(breaches),
        signals,
        customers,
    )
