"""`followup calendar publish FILE`: a region-year as CalendarYearPublished (SPEC §11)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from followup.calendar import CalendarDataError, YearData, load_year
from followup.core.control import publish_control_event
from followup.events import (
    CalendarDay,
    CalendarYearPublished,
    Event,
    derived_id,
    make_event,
    topics,
)

app = typer.Typer(help="Calendar data (SPEC §2, §11).", no_args_is_help=True)

INVALID = 2  # the exit status when the file does not load


def calendar_year_published(year: YearData, published_at: datetime) -> Event[CalendarYearPublished]:
    """The event of one region-year; the same days give the same event id."""
    data = CalendarYearPublished(
        region=year.region,
        year=year.year,
        holidays=[CalendarDay(day=d, name=n) for d, n in sorted(year.holidays.items())],
        workdays=[CalendarDay(day=d, name=n) for d, n in sorted(year.workdays.items())],
        source=year.source or None,
    )
    content = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
    return make_event(
        data,
        id=derived_id("CalendarYearPublished", year.region, str(year.year), content),
        source="followup/cli",
        subject=topics.calendar_key(year.region),
        time=published_at,
    )


@app.command("publish")
def publish(
    file: Annotated[Path, typer.Argument(help="a region-year data file (.toml or .json)")],
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap")] = None,
    topic_prefix: Annotated[str, typer.Option(help="topic prefix")] = "",
) -> None:
    """Publishes CalendarYearPublished on followup.control: services load the year on arrival."""
    try:
        year = load_year(file)
    except CalendarDataError as e:
        typer.echo(f"INVALID: {e}")
        raise typer.Exit(INVALID) from None
    event = calendar_year_published(year, datetime.now(UTC).replace(microsecond=0))
    servers = bootstrap or os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    asyncio.run(publish_control_event(servers, event, topic_prefix=topic_prefix))
    typer.echo(
        f"CalendarYearPublished {year.region} {year.year}: {len(year.holidays)} days off, "
        f"{len(year.workdays)} make-up working days ({event.id})"
    )
