"""The stored rows are the domain's facts: every event's row, read back, folds to exactly what
the pure fold of the events gives (the rows are all the projection keeps)."""

from __future__ import annotations

from typing import Any

import pytest
from analytics_builders import at, due, logged
from analytics_histories import random_history

from followup.analytics import projections
from followup.analytics.domain.model import fold
from followup.events import EventData, IssueDeadlinesRecomputed


def stored(events: list[tuple[str, EventData]]) -> Any:
    """What the three tables would hold, as rows keyed by column (as asyncpg returns them)."""
    tables: dict[str, list[dict[str, Any]]] = {"customer": [], "visit": [], "issue": []}
    for event_id, e in events:
        found = projections.fact_row(event_id, e)
        if found is None:
            continue
        entity, row = found
        values = dict(zip(projections.COLUMNS[entity], row, strict=True))
        if entity == "visit":
            # The database splits the comma-joined kinds into a text[].
            values["kinds"] = values["kinds"].split(",") if values["kinds"] else None
        tables[entity].append(values)
    return tables["customer"], tables["visit"], tables["issue"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_read_back_fold_to_the_facts_of_the_events(seed: int) -> None:
    history = random_history(seed)
    assert projections.facts_from_rows(*stored(history)) == fold(e for _, e in history)


def test_a_recompute_that_leaves_handover_alone_stores_nothing() -> None:
    recompute = IssueDeadlinesRecomputed.model_validate(
        {"issue_id": "I-1", "customer_id": "C-1", "recomputed_at": at(3, 2), "round": 2}
    )
    assert projections.fact_row("e-1", recompute) is None


def test_a_visit_row_keeps_every_kind_and_no_free_text() -> None:
    found = projections.fact_row("e-1", due("V-1", at(3, 2), at(3, 9), kinds=("routine", "deep")))
    assert found is not None and found[0] == "visit"
    assert dict(zip(projections.VISIT_COLUMNS, found[1], strict=True))["kinds"] == "routine,deep"
    log = logged("V-1", at(3, 3)).model_copy(update={"feedback": "call me on 138..."})
    logged_row = projections.fact_row("e-2", log)
    assert logged_row is not None and "call me on 138..." not in logged_row[1]
