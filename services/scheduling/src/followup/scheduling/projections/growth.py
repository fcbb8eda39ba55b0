"""The tables every batch reads by customer, whose statistics the core keeps fresh.

Filled from empty at ingest speed (a new service, or a replay into fresh tables), their
statistics say "tiny" long before autovacuum's next look; only the column the batches read by
is analyzed (statistics on the plan's arrays would cost several times more).
"""

from __future__ import annotations

from followup.core.maintenance import GrowingTable

GROWING_TABLES = (
    GrowingTable("planned_visit", ("customer_id",)),
    GrowingTable("delivery", ("customer_id",)),
    GrowingTable("customer", ("customer_id",)),
)
