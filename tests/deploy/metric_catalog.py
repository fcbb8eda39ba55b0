"""Every metric family the dashboard and the alert rules read, and who exports it.

EXPORTED families are registered by the code today (tests check the name is in the source of
the named package). PLANNED families are promised by an open issue; the panels and rules exist
already so the dashboard is complete the day the metric lands. HTTP families are the names of
prometheus-fastapi-instrumentator (issue 19 §2 asks for a well-kept instrumentator).
"""

from __future__ import annotations

EXPORTED = {
    "up": None,  # Prometheus' own scrape health
    "followup_events_consumed": "libs/core",
    "followup_consumer_lag": "libs/core",
    "followup_processing_latency_seconds": "libs/core",
    "followup_outbox_pending_rows": "libs/core",
    "followup_outbox_oldest_age_seconds": "libs/core",
    "followup_dead_letters": "libs/core",
    "followup_issue_sla_breaches": "services/issues",
    "followup_issues_open": "services/issues",
    "followup_calendar_next_year_official": "services/scheduling",
    "followup_notifications": "libs/core",
    "followup_notification_delivery_seconds": "libs/core",
}

PLANNED = {
    "followup_visits": "issue 18 §3: gauge, label state (due, overdue, unassigned, ...)",
    "followup_issues_open_age_seconds": "issue 18 §3: histogram of open issues' ages",
    "followup_issue_sla_warnings": "issue 15 §5: counter",
    "followup_kpi_ratio": "issue 18 §3: rolling KPI gauges, labels kpi, window (7d, 30d)",
    "followup_kpi_target_ratio": "issue 18 §3: the active policy's target per kpi",
    "http_request_duration_seconds": "issue 19 §2: instrumentator histogram, labels handler",
    "http_requests": "issue 19 §2: instrumentator counter, labels handler, status, method",
}
