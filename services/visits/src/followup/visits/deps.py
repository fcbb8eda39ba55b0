"""What the routes are given, built once in `main.py` (the only place that builds I/O objects)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

import asyncpg

from followup.core.crypto import PersonalDataVault
from followup.visits.staffing import Staffing
from followup.visits.store import CommandStore


@dataclass(frozen=True)
class VisitsDeps:
    """The vault that opens contacts, the zone months are counted in, the commands' storage,
    the policy and roster visits are routed by."""

    vault: PersonalDataVault
    timezone: tzinfo
    command_store: Callable[[asyncpg.Connection], CommandStore]
    staffing: Staffing
