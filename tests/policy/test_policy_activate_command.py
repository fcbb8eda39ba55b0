"""`followup policy activate` on the real test broker: one PolicyActivated on followup.control."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

from followup.core.policy import load_preset, policy_digest, policy_from_document, preset_path
from followup.core.testing import Infra, create_topics
from followup.events import PolicyActivated, decode, topics

from .control_topic import read_all

FOLLOWUP = Path(sys.executable).parent / "followup"


def activate(
    infra: Infra, prefix: str, file: Path, effective_at: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(FOLLOWUP),
            "policy",
            "activate",
            str(file),
            "--effective-at",
            effective_at,
            "--bootstrap",
            infra.kafka_bootstrap,
            "--topic-prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


async def test_activating_the_cable_tv_preset_publishes_its_canonical_document(
    infra: Infra,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}{topics.CONTROL}"
    await create_topics(infra.kafka_bootstrap, [topic], partitions=1)
    file = preset_path("cable-tv")
    done = await asyncio.to_thread(activate, infra, prefix, file, "2027-01-01T00:00:00+08:00")
    assert done.returncode == 0, done.stdout + done.stderr
    # Activating the same file for the same instant again is the same fact (same event id).
    again = await asyncio.to_thread(activate, infra, prefix, file, "2027-01-01T00:00:00+08:00")
    assert again.returncode == 0, again.stdout + again.stderr

    (key, value), (_, value_again) = await read_all(infra.kafka_bootstrap, topic, 2)
    assert key == b"policy"
    event, repeated = decode(value), decode(value_again)
    assert event.id == repeated.id and event.id in done.stdout
    assert event.type == "PolicyActivated" and event.subject == "policy"
    data = event.data
    assert isinstance(data, PolicyActivated)
    policy = load_preset("cable-tv")
    assert (data.policy_id, data.version) == ("cable-tv", 1)
    assert data.effective_at.isoformat() == "2027-01-01T00:00:00+08:00"
    assert data.digest == policy_digest(policy)
    # The document is the policy: it loads back to the same one, digest and all.
    assert policy_from_document(data.document) == policy


async def test_an_invalid_policy_is_not_published(infra: Infra, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        preset_path("generic")
        .read_text(encoding="utf-8")
        .replace("max_attempts = 3", "max_attempts = 9"),
        encoding="utf-8",
    )
    prefix = f"t{uuid.uuid4().hex[:8]}."
    done = await asyncio.to_thread(activate, infra, prefix, bad, "2027-01-01T00:00:00+08:00")
    assert done.returncode == 2
    assert "retries.max_attempts: Input should be less than or equal to 3 (got 9)" in done.stdout
    assert "PolicyActivated" not in done.stdout


def test_an_effective_time_without_an_offset_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(FOLLOWUP),
            "policy",
            "activate",
            str(preset_path("generic")),
            "--effective-at",
            "2027-01-01T00:00:00",
            "--bootstrap",
            "127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "UTC offset" in done.stdout + done.stderr


def test_the_golden_policy_activated_carries_a_document_with_its_digest() -> None:
    example = Path(__file__).resolve().parents[2] / "libs/events/contract/examples"
    event = decode((example / "PolicyActivated" / "v1-home-cinema.json").read_bytes())
    assert isinstance(event.data, PolicyActivated)
    policy = policy_from_document(event.data.document)
    assert policy.id == event.data.policy_id and policy.version == event.data.version
    assert policy_digest(policy) == event.data.digest
