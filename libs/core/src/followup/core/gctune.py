"""Garbage-collector tuning for a consuming process."""

from __future__ import annotations

import gc

# Objects the collector tracks per record while its batch is alive (record, headers, item,
# event, its data...), with room to spare.
TRACKED_PER_RECORD = 30


def tune_gc(young_threshold: int, batch_max_records: int) -> None:
    """Fewer, larger young collections; what exists at startup is never scanned again.

    The young generation counts objects allocated and not yet freed. Under load two batches are
    alive at once (one decoded while the other commits): a threshold below that makes every
    young collection scan, and promote, live records only.
    """
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    young = max(young_threshold, 2 * TRACKED_PER_RECORD * batch_max_records)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(max(young, gc.get_threshold()[0]), older, oldest)
