"""`followup calendar publish` on the real test broker: one CalendarYearPublished per year."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

from followup.core.testing import Infra, create_topics
from followup.events import CalendarYearPublished, decode, topics

from .control_topic import read_all

ROOT = Path(__file__).resolve().parents[2]
FOLLOWUP = Path(sys.executable).parent / "followup"
EXAMPLE = ROOT / "libs" / "calendar" / "data" / "example-XX-2028.toml"


def publish(infra: Infra, prefix: str, file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(FOLLOWUP),
            "calendar",
            "publish",
            str(file),
            "--bootstrap",
            infra.kafka_bootstrap,
            "--topic-prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


async def test_a_data_file_is_published_keyed_by_its_region_with_every_day(infra: Infra) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}{topics.CONTROL}"
    await create_topics(infra.kafka_bootstrap, [topic], partitions=1)
    done = await asyncio.to_thread(publish, infra, prefix, EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CalendarYearPublished XX 2028: 3 days off, 1 make-up working days" in done.stdout
    again = await asyncio.to_thread(publish, infra, prefix, EXAMPLE)
    assert again.returncode == 0, again.stdout + again.stderr

    (key, value), (_, value_again) = await read_all(infra.kafka_bootstrap, topic, 2)
    assert key == b"calendar/XX"
    event = decode(value)
    assert event.id == decode(value_again).id, "the same days are the same fact"
    data = event.data
    assert isinstance(data, CalendarYearPublished)
    assert (data.region, data.year) == ("XX", 2028)
    assert [(d.day, d.name) for d in data.holidays] == [
        (date(2028, 3, n), "Example Day") for n in (1, 2, 3)
    ]
    assert [(d.day, d.name) for d in data.workdays] == [(date(2028, 3, 4), "Make-up working day")]
    assert data.source is not None and data.source.startswith("example of the data-file format")


async def test_a_bad_data_file_is_not_published(infra: Infra, tmp_path: Path) -> None:
    bad = tmp_path / "XX-2028.toml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace('region = "XX"', 'region = "xx"'))
    done = await asyncio.to_thread(publish, infra, f"t{uuid.uuid4().hex[:8]}.", bad)
    assert done.returncode == 2
    assert "region" in done.stdout and "CalendarYearPublished" not in done.stdout
