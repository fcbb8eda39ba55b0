"""Visits settings: the core's plus this service's own."""

from __future__ import annotations

from followup.core.settings import CoreSettings


class VisitsSettings(CoreSettings):
    """Environment `FOLLOWUP_*`."""

    service: str = "visits"
    port: int = 8002
    # Months of spot checks are counted in this zone.
    default_timezone: str = "Asia/Shanghai"
    # The policy routing and the dissatisfaction threshold come from: a preset's name or the
    # path of a policy file (SPEC §11).
    policy: str = "home-cinema"
