"""The COPY text encoder: what it writes, and that PostgreSQL reads every value back as given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from followup.core import pgcopy

AWKWARD = [
    "plain",
    "tab\there",
    "new\nline",
    "cr\rhere",
    "back\\slash",
    'quo"te',
    "",
    "\\N",
    "{x,y}",
]


def test_a_plain_row_is_joined_by_tabs_and_ends_in_a_newline() -> None:
    assert pgcopy.row(["C-1", None, "2027-01-30T09:00:00+08:00"]) == (
        "C-1\t\\N\t2027-01-30T09:00:00+08:00\n"
    )


def test_backslash_tab_newline_and_carriage_return_are_escaped_in_a_value() -> None:
    assert pgcopy.row(["a\tb", "c\nd", "e\\f", "g\rh"]) == "a\\tb\tc\\nd\te\\\\f\tg\\rh\n"
    assert pgcopy.value(None) == "\\N"
    assert pgcopy.value("\\N") == "\\\\N"  # the text, not NULL


def test_array_elements_are_quoted_and_their_quotes_and_backslashes_escaped() -> None:
    assert pgcopy.array([]) == "{}"
    assert pgcopy.array(["a", "b"]) == '{"a","b"}'
    # The literal {"q\"","b\\"} then escaped as a value: every backslash doubled.
    assert pgcopy.array(['q"', "b\\"]) == '{"q\\\\"","b\\\\\\\\"}'
    assert pgcopy.plain_array(["first_use", "special"]) == '{"first_use","special"}'


def test_needs_escape_finds_every_character_the_format_escapes() -> None:
    assert not pgcopy.needs_escape("C-1 first use of order O-1, 2027-01-30T09:00:00+08:00")
    for ch in ("\\", "\t", "\n", "\r", '"'):
        assert pgcopy.needs_escape(f"x{ch}y")


@pytest.fixture
async def conn(fresh_db: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(fresh_db)
    await c.execute("CREATE TABLE t (n int, s text, a text[], at timestamptz)")
    yield c
    await c.close()


async def test_postgresql_reads_back_every_value_and_array_as_written(
    conn: asyncpg.Connection,
) -> None:
    at = datetime(2027, 1, 30, 1, 0, tzinfo=UTC)
    lines = [pgcopy.row([str(n), s, None, at.isoformat()]) for n, s in enumerate([*AWKWARD, None])]
    await pgcopy.copy_lines(conn, "t", ("n", "s", "a", "at"), lines)
    rows = await conn.fetch("SELECT n, s, at FROM t ORDER BY n")
    assert [(r[0], r[1]) for r in rows] == list(enumerate([*AWKWARD, None]))
    assert {r[2] for r in rows} == {at}

    async def chunks() -> AsyncIterator[bytes]:
        # An array column is written as a whole value, not through row().
        for n, items in enumerate([AWKWARD, [], ["one"]]):
            yield f"{200 + n}\t{pgcopy.array(items)}\n".encode()

    await pgcopy.copy_chunks(conn, "t", ("n", "a"), chunks())
    arrays = await conn.fetch("SELECT a FROM t WHERE n >= 200 ORDER BY n")
    assert [list(r[0]) for r in arrays] == [AWKWARD, [], ["one"]]
