"""Analytics settings: the core's plus this service's own."""

from __future__ import annotations

from followup.core.settings import CoreSettings


class AnalyticsSettings(CoreSettings):
    """Environment `FOLLOWUP_*`."""

    service: str = "analytics"
    port: int = 8004
    # `from`/`to` dates and report months are days and months in this zone.
    default_timezone: str = "Asia/Shanghai"
