"""followup_issues_open{department,state} counted from the ledger on real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from prometheus_client import CollectorRegistry

from followup.core.clock import WallClock
from followup.core.db import create_pool, migrate
from followup.core.metrics import Metrics
from followup.core.runtime import Runtime
from followup.core.settings import CoreSettings
from followup.core.testing import Infra, create_database
from followup.issues.gauges import OpenIssues

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
T = datetime(2026, 12, 8, 9, tzinfo=UTC)


async def _issue(pool: asyncpg.Pool, n: int, department: str, status: str, paused: bool) -> None:
    await pool.execute(
        """INSERT INTO issue (issue_id, customer_id, status, paused, department, category,
                              severity, source, raised_at, timezone, updated_at)
           VALUES ($1, 'C-1', $2, $3, $4, 'fault', 'general', 'visit', $5, 'Asia/Shanghai', $5)""",
        f"I-{n}",
        status,
        paused,
        department,
        T,
    )


async def test_open_issues_are_counted_by_department_and_state_and_emptied_ones_read_0(
    infra: Infra,
) -> None:
    dsn = await create_database(infra.pg_admin_dsn, prefix="issues")
    await migrate(dsn, service="issues", migrations_dir=MIGRATIONS)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        for n, (department, status, paused) in enumerate(
            [
                ("technical", "raised", False),
                ("technical", "assigned", False),
                ("technical", "assigned", False),
                ("technical", "assigned", True),
                ("after_sales", "resolved", False),
                ("after_sales", "closed", False),
            ]
        ):
            await _issue(pool, n, department, status, paused)
        registry = CollectorRegistry()
        gauge = OpenIssues()
        gauge.register_metrics(registry)
        runtime = Runtime(CoreSettings(pg_dsn=dsn), pool, WallClock(1.0), Metrics())
        assert await gauge.refresh(runtime) == {
            ("technical", "raised"): 1,
            ("technical", "assigned"): 2,
            ("technical", "paused"): 1,
            ("after_sales", "resolved"): 1,
        }

        def value(department: str, state: str) -> float | None:
            return registry.get_sample_value(
                "followup_issues_open", {"department": department, "state": state}
            )

        assert value("technical", "assigned") == 2
        assert value("after_sales", "closed") is None
        await pool.execute("UPDATE issue SET status = 'closed' WHERE department = 'after_sales'")
        await gauge.refresh(runtime)
        assert value("after_sales", "resolved") == 0
    finally:
        await pool.close()
