"""PostgreSQL COPY's text format, written by hand for bulk inserts.

asyncpg's binary COPY encodes text arrays and zone-aware times in Python at several times the
cost of PostgreSQL parsing the same rows as text; a service that stores rows by the thousand
(scheduling's plans) writes them here from strings it already has (ids, ISO times).

The format: one line per row, values separated by tabs, NULL as `\\N`; backslash, tab,
newline and carriage return escaped with a backslash. An array is a `{...}` literal (each
element quoted here, so a quote or backslash inside one is escaped first), then escaped as
any value.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

import asyncpg

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_NEEDS_ESCAPE = re.compile(r'[\\\t\n\r"]').search


def needs_escape(text: str) -> bool:
    """Whether `text` holds a character a value or a quoted array element must escape."""
    return _NEEDS_ESCAPE(text) is not None


def value(text: str | None) -> str:
    """A text value (or NULL) as COPY's text format writes it."""
    return NULL if text is None else text.translate(_ESCAPES)


def row(values: Sequence[str | None]) -> str:
    """One row of text values (or NULLs) with its newline."""
    if _NEEDS_ESCAPE("".join([v for v in values if v is not None])) is None:
        # Nearly always (ids, tiers, zones, ISO times): nothing to escape.
        return "\t".join([NULL if v is None else v for v in values]) + "\n"
    return "\t".join([value(v) for v in values]) + "\n"


def array(items: Sequence[str]) -> str:
    """A text[] value, every element quoted."""
    if not items:
        return "{}"
    return value('{"' + '","'.join(i.translate(_ARRAY_ESCAPES) for i in items) + '"}')


def plain_array(items: Sequence[str]) -> str:
    """array(items) for non-empty items known to need no escape (see needs_escape)."""
    return '{"' + '","'.join(items) + '"}'


async def copy_lines(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], lines: Sequence[str]
) -> None:
    """Stores rows already written by `row` with one COPY."""
    if lines:
        await copy_chunks(conn, table, columns, _one_chunk("".join(lines).encode()))


async def copy_chunks(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], chunks: AsyncIterator[bytes]
) -> None:
    """Stores rows streamed as chunks of whole lines (COPY FROM STDIN, text format)."""
    await conn.copy_to_table(table, source=chunks, columns=list(columns), format="text")


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data
