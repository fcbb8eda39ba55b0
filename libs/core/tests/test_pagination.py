"""Keyset pagination shared by every list endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from followup.core.http import encode_cursor, keyset_after, keyset_page
from followup.core.problems import Problem


def test_a_page_cursor_resumes_after_its_last_row() -> None:
    rows = [{"at": datetime(2026, 3, d, tzinfo=UTC), "id": f"V-{d}"} for d in (1, 2, 3)]
    page = keyset_page(rows, 2, "at", "id")
    assert [r["id"] for r in page["items"]] == ["V-1", "V-2"]
    assert keyset_after(page["next_cursor"]) == (datetime(2026, 3, 2, tzinfo=UTC), "V-2")
    assert keyset_page(rows, 3, "at", "id")["next_cursor"] is None
    assert keyset_after(None) is None


def test_a_cursor_that_was_not_made_by_us_is_a_400() -> None:
    for bad in ("!!!", encode_cursor(["not a time", "V-1"]), encode_cursor([])):
        with pytest.raises(Problem) as err:
            keyset_after(bad)
        assert err.value.status == 400
