"""Issues settings: the core's plus this service's own."""

from __future__ import annotations

from followup.core.settings import CoreSettings


class IssuesSettings(CoreSettings):
    """Environment `FOLLOWUP_*`."""

    service: str = "issues"
    port: int = 8003
