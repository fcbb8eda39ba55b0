"""Analytics' HTTP API (SPEC §7): KPIs by group, the monthly report, the churn-risk list."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from followup.analytics import queries, report_page
from followup.analytics.domain import views
from followup.analytics.domain.period import Period, days_ending_with, month_holding
from followup.analytics.queries import Analytics
from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.http import decode_cursor, encode_cursor, json_response
from followup.core.instants import parse_instant
from followup.core.problems import Problem

GroupBy = Literal["month", "tier", "agent", "department", "category", "region"]
# Aggregates for analysts, supervisors and admins (SPEC §8). Agents see their own visits in the
# visits service, not the company's figures. Nothing served here is personal data: analytics
# keeps ids, tiers, regions and figures, no contact and no free text.
READERS = (Role.ANALYST, Role.SUPERVISOR, Role.ADMIN)
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The churn list looks back this far by default: the longest rule's window (two complaints
# within 90 days).
AT_RISK_DAYS = 90


def parse_month(month: str) -> tuple[int, int]:
    """YYYY-MM as (year, month); 422 for anything else."""
    m = MONTH.match(month)
    if m is None:
        raise Problem(422, "month must be YYYY-MM (01..12)", value=month)
    return int(m[1]), int(m[2])


def parse_period(
    from_: str | None,
    to: str | None,
    now: datetime,
    zone: ZoneInfo,
    default: Callable[[datetime, ZoneInfo], Period],
    default_start: Callable[[datetime, ZoneInfo], datetime],
) -> Period:
    """The asked period. Without bounds, `default(now)`: whole local days or months, so the
    same question asked later the same day is the same period (and its kept answer serves it,
    cache.py); periods reaching past now answer as of now."""
    if not from_ and not to:
        return default(now, zone)
    end = parse_instant(to, zone, end=True, name="to") if to else now
    start = (
        parse_instant(from_, zone, end=False, name="from") if from_ else default_start(end, zone)
    )
    if start > end:
        raise Problem(422, "from is after to", period=[start.isoformat(), end.isoformat()])
    return Period(start, end)


def _month_start(t: datetime, zone: ZoneInfo) -> datetime:
    return month_holding(t, zone).start


def _last_days(now: datetime, zone: ZoneInfo) -> Period:
    return days_ending_with(now, AT_RISK_DAYS, zone)


def _days_before(end: datetime, zone: ZoneInfo) -> datetime:
    return end - timedelta(days=AT_RISK_DAYS)


def routers(auth: Authenticate, svc: Analytics) -> list[APIRouter]:
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
        now: datetime = request.app.state.clock.now()
        period = parse_period(from_, to, now, svc.zone, month_holding, _month_start)
        pool = request.app.state.pool
        body = await queries.answer_kpis(svc, pool, period, now, group_by or "all")
        return json_response(body)

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
        year, mon = parse_month(month)
        now: datetime = request.app.state.clock.now()
        pool = request.app.state.pool
        body = await queries.answer_monthly_report(svc, pool, year, mon, now)
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
        now: datetime = request.app.state.clock.now()
        period = parse_period(from_, to, now, svc.zone, _last_days, _days_before)
        pool = request.app.state.pool
        page = await queries.answer_customers_at_risk(
            svc, pool, period, now, after=after, limit=limit
        )
        last = page.items[-1]["customer_id"] if page.more else None
        return json_response(
            {
                **views.period_view(page.period),
                "as_of": page.as_of.isoformat(),
                "items": page.items,
                "next_cursor": encode_cursor([last]) if last is not None else None,
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
