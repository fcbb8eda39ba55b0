"""Analytics' HTTP API (SPEC §7): KPIs by group, the monthly report, the churn-risk list."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from followup.analytics import report_page, views
from followup.analytics.cache import AnswerCache, Cached, next_instant
from followup.analytics.domain import Facts, Period
from followup.analytics.projections import Snapshot
from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.http import decode_cursor, encode_cursor, json_response
from followup.core.problems import Problem

T = TypeVar("T")
# projections.load_period in the service; the unit tests give an in-memory fold instead.
FactsLoader = Callable[..., Awaitable[Snapshot]]
GroupBy = Literal["month", "tier", "agent", "department", "category", "region"]
# Aggregates for analysts, supervisors and admins (SPEC §8). Agents see their own visits in the
# visits service, not the company's figures. Nothing served here is personal data: analytics
# keeps ids, tiers, regions and figures, no contact and no free text.
READERS = (Role.ANALYST, Role.SUPERVISOR, Role.ADMIN)
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The churn list looks back this far by default: the longest rule's window (two complaints
# within 90 days).
AT_RISK_LOOKBACK = timedelta(days=90)


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.default_timezone)


def parse_instant(value: str, zone: ZoneInfo, *, end: bool, name: str) -> datetime:
    """A `from`/`to` bound: a date is its day in the zone (`to` includes it: the period ends at
    the next midnight); a datetime without an offset is read in the zone."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            return midnight + timedelta(days=1) if end else midnight
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(
            422, f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 instant", value=value
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=zone)


def month_period(month: str, zone: ZoneInfo) -> Period:
    """The calendar month YYYY-MM in the zone; 422 for anything else."""
    m = MONTH.match(month)
    if m is None:
        raise Problem(422, "month must be YYYY-MM (01..12)", value=month)
    year, mon = int(m[1]), int(m[2])
    start = datetime(year, mon, 1, tzinfo=zone)
    after = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return Period(start, after)


def _period(
    request: Request,
    from_: str | None,
    to: str | None,
    default: Callable[[datetime, ZoneInfo], Period],
    default_start: Callable[[datetime, ZoneInfo], datetime],
) -> tuple[Period, datetime]:
    """The asked period, and now. Without bounds, `default(now)`: whole local days or months,
    so the same question asked later the same day is the same period (and its kept answer
    serves it, cache.py); periods reaching past now answer as of now."""
    zone = _zone(request)
    now: datetime = request.app.state.clock.now()
    if not from_ and not to:
        return default(now, zone), now
    end = parse_instant(to, zone, end=True, name="to") if to else now
    start = (
        parse_instant(from_, zone, end=False, name="from") if from_ else default_start(end, zone)
    )
    if start > end:
        raise Problem(422, "from is after to", period=[start.isoformat(), end.isoformat()])
    return Period(start, end), now


async def _answer(
    request: Request,
    endpoint: str,
    variant: str,
    period: Period,
    now: datetime,
    churn: bool,
    compute: Callable[[Facts], T],
) -> T:
    """The answer computed at `now`: the one kept from an earlier request while it still holds
    (cache.py), else the period's facts loaded in one snapshot and folded off the event loop
    (the consumer shares it)."""
    started = time.perf_counter()
    answers: AnswerCache = request.app.state.answers
    key = (endpoint, variant, period.start.isoformat(), period.end.isoformat())
    held = answers.lookup(key, now)
    load: FactsLoader = request.app.state.load_facts
    unless = (held.stored, held.version) if held else None
    snapshot = await load(request.app.state.pool, period, churn=churn, unless=unless)
    facts = snapshot.facts
    if facts is None:
        assert held is not None
        answer: T = held.body
        if snapshot.stored != held.stored:  # facts stored elsewhere: next time, one row says so
            answers.store(key, replace(held, stored=snapshot.stored))
    else:
        answer, until = await asyncio.to_thread(lambda: (compute(facts), next_instant(facts, now)))
        answers.store(key, Cached(snapshot.stored, snapshot.version, now, until, answer))
    observe = request.app.state.observe_query
    observe(endpoint, "fold" if facts is not None else "kept", time.perf_counter() - started)
    return answer


def _month_start(t: datetime, zone: ZoneInfo) -> datetime:
    local = t.astimezone(zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)


def _this_month(now: datetime, zone: ZoneInfo) -> Period:
    local = now.astimezone(zone)
    return month_period(f"{local.year:04d}-{local.month:02d}", zone)


def _last_90_days(now: datetime, zone: ZoneInfo) -> Period:
    """The 90 local days ending with today."""
    local = now.astimezone(zone)
    tomorrow = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    return Period(tomorrow - AT_RISK_LOOKBACK, tomorrow)


def routers(auth: Authenticate) -> list[APIRouter]:
    """The /v1 routes behind the bearer-token dependency; every one for READERS."""
    router = APIRouter(prefix="/v1", tags=["analytics"])

    @router.get("/kpis", response_model=dict[str, Any])
    async def get_kpis(
        request: Request,
        principal: Principal = Depends(auth),
        from_: Annotated[str | None, Query(alias="from")] = None,
        to: str | None = None,
        group_by: GroupBy | None = None,
    ) -> Response:
        """Every SPEC §5 KPI over [from, to), by group. `from`/`to` are dates (local days,
        `to` included) or instants; without them, the current month (as of now); with `from`
        only, up to now; with `to` only, from the start of its month."""
        require_role(principal, *READERS)
        period, now = _period(request, from_, to, _this_month, _month_start)
        body = await _answer(
            request,
            "kpis",
            group_by or "all",
            period,
            now,
            False,
            lambda facts: views.kpis(facts, period, now, group_by or "all"),
        )
        return json_response({**body, "as_of": now.isoformat()})

    @router.get(
        "/reports/monthly/{month}",
        response_model=dict[str, Any],
        responses={200: {"content": {"text/html": {}}}},
    )
    async def get_monthly_report(
        month: str, request: Request, principal: Principal = Depends(auth)
    ) -> Response:
        """The month's report (YYYY-MM, local): KPIs against target, times, top problem
        categories, most breaches, customers at risk. `Accept: text/html` gives a page with
        charts."""
        require_role(principal, *READERS)
        period = month_period(month, _zone(request))
        now = request.app.state.clock.now()
        body = await _answer(
            request,
            "monthly_report",
            month,
            period,
            now,
            True,
            lambda facts: views.monthly_report(facts, month, period, now),
        )
        body = {**body, "as_of": now.isoformat()}
        if _wants_html(request.headers.get("accept", "")):
            return HTMLResponse(report_page.render(body))
        return json_response(body)

    @router.get("/customers/at-risk", response_model=dict[str, Any])
    async def list_customers_at_risk(
        request: Request,
        principal: Principal = Depends(auth),
        from_: Annotated[str | None, Query(alias="from")] = None,
        to: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """Customers a churn-risk rule fired for in [from, to) (default: the 90 local days ending
        today), by customer id, with the rules and the visits or issues behind them; paginated."""
        require_role(principal, *READERS)
        after = _customer_after(cursor)
        period, now = _period(
            request, from_, to, _last_90_days, lambda end, zone: end - AT_RISK_LOOKBACK
        )
        items = await _answer(
            request,
            "customers_at_risk",
            "",
            period,
            now,
            True,
            lambda facts: views.at_risk_items(facts, period, now),
        )
        if after is not None:
            items = [i for i in items if i["customer_id"] > after]
        page = items[:limit]
        more = len(items) > limit
        return json_response(
            {
                **views.period_view(period),
                "as_of": now.isoformat(),
                "items": page,
                "next_cursor": encode_cursor([page[-1]["customer_id"]]) if more else None,
            }
        )

    return [router]


def _customer_after(cursor: str | None) -> str | None:
    if not cursor:
        return None
    key = decode_cursor(cursor)
    if len(key) != 1 or not isinstance(key[0], str):
        raise Problem(400, "invalid cursor")
    return key[0]


def _wants_html(accept: str) -> bool:
    """Whether the client prefers HTML to JSON (a browser's Accept lists text/html first)."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            return True
        if media in ("application/json", "*/*"):
            return False
    return False
