"""Scheduling settings: the core's plus the policy's knobs."""

from __future__ import annotations

from followup.core.settings import CoreSettings


class SchedulingSettings(CoreSettings):
    """Environment `FOLLOWUP_*`; defaults are SPEC §2's."""

    service: str = "scheduling"
    port: int = 8001
    default_timezone: str = "Asia/Shanghai"
    first_use_deadline_days: int = 7
