"""Issues' read use cases (SPEC §7): the ledger's pages and one issue as the API shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from followup.calendar import BusinessCalendar
from followup.core.http import keyset_page
from followup.core.rejections import Rejection, not_found
from followup.issues.domain import views
from followup.issues.projections import history, ledger


@dataclass(frozen=True)
class IssueQuery:
    """The filters and page of `GET /v1/issues`."""

    status: str | None = None
    department: str | None = None
    breached: bool | None = None
    customer_id: str | None = None
    limit: int = 100
    # The (raised_at, issue_id) the page starts after (the API decodes its cursor).
    after: tuple[datetime, str] | None = None


async def list_issues(conn: asyncpg.Connection, query: IssueQuery) -> dict[str, Any]:
    """One page of the ledger, newest first, with the cursor of the next."""
    rows = await ledger.list_issues(
        conn,
        status=query.status,
        department=query.department,
        breached=query.breached,
        customer_id=query.customer_id,
        after=query.after,
        limit=query.limit + 1,
    )
    return keyset_page(rows, query.limit, "raised_at", "issue_id")


async def read_issue(
    conn: asyncpg.Connection,
    issue_id: str,
    now: datetime,
    cal: BusinessCalendar,
    *,
    free_text: bool = True,
) -> views.IssueView | Rejection:
    """One issue with its clocks at `now` and its timeline; without free text for readers who
    may not see it (SPEC §8)."""
    issue = await history.load_issue(conn, issue_id)
    if issue is None:
        return not_found(f"no issue {issue_id}")
    view = views.view_issue(issue, now, cal)
    return view if free_text else views.without_free_text(view)
