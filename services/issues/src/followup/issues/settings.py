"""Issues settings: the core's plus escalation."""

from __future__ import annotations

from pydantic import Field

from followup.core.settings import CoreSettings


class IssuesSettings(CoreSettings):
    """Environment `FOLLOWUP_*`."""

    service: str = "issues"
    port: int = 8003
    # Department -> the manager a breach escalates to (JSON in FOLLOWUP_DEPARTMENT_MANAGERS).
    department_managers: dict[str, str] = Field(
        default_factory=lambda: {
            "after_sales": "manager-after-sales",
            "technical": "manager-technical",
            "customer_service": "manager-customer-service",
        }
    )
