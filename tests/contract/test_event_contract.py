"""The public event contract (SPEC §6) stays stable: every golden example of every type decodes,
validates under every schema snapshot (full transitive compatibility), and the models still
generate the latest snapshot, so a model change needs a deliberate new snapshot and example."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.events import (
    MODELS,
    ClockAdvanced,
    Event,
    RejectedMessage,
    RejectReason,
    VisitDue,
    decode,
    derived_id,
    encode,
    make_event,
)
from followup.events.asyncapi import build_asyncapi
from followup.events.envelope import Envelope

CONTRACT = Path(__file__).resolve().parents[2] / "libs" / "events" / "contract"
SCHEMAS = CONTRACT / "schemas"
EXAMPLES = sorted((CONTRACT / "examples").glob("*/*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def snapshots_of(type_name: str) -> list[Path]:
    return sorted(SCHEMAS.glob(f"{type_name}.v*.json"))


def test_every_contract_type_has_a_snapshot_and_a_golden_example() -> None:
    for type_name, versions in MODELS.items():
        for v in versions:
            assert (SCHEMAS / f"{type_name}.v{v}.json").exists(), type_name
            assert list((CONTRACT / "examples" / type_name).glob(f"v{v}-*.json")), type_name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_golden_example_decodes_with_the_current_models(path: Path) -> None:
    doc = load(path)
    event = decode(path.read_bytes())
    assert event.type == path.parent.name == doc["type"]
    assert event.id == doc["id"]
    # Nothing of the example is lost in a round trip.
    assert json.loads(encode(event))["data"] == doc["data"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_golden_example_validates_under_every_snapshot_of_its_type(path: Path) -> None:
    doc = load(path)
    snapshots = snapshots_of(path.parent.name)
    assert snapshots
    for snapshot in snapshots:
        jsonschema.validate(doc["data"], load(snapshot))
    jsonschema.validate(doc, load(SCHEMAS / "Envelope.json"))


@pytest.mark.parametrize(("type_name", "version"), [(t, v) for t, vs in MODELS.items() for v in vs])
def test_the_models_generate_exactly_the_latest_snapshot(type_name: str, version: int) -> None:
    """A model change must come with a new snapshot (scripts/snapshot_schemas.py)."""
    current = MODELS[type_name][version].model_json_schema()
    assert current == load(SCHEMAS / f"{type_name}.v{version}.json")


def test_the_envelope_model_generates_its_snapshot() -> None:
    assert Envelope.model_json_schema() == load(SCHEMAS / "Envelope.json")


def _golden(type_name: str, name: str = "minimal") -> dict[str, Any]:
    path = CONTRACT / "examples" / type_name / f"v1-{name}.json"
    doc: dict[str, Any] = load(path)
    return doc


def _reason(raw: bytes) -> RejectedMessage:
    with pytest.raises(RejectedMessage) as err:
        decode(raw)
    return err.value


def test_bytes_that_are_not_json_are_rejected_as_not_json() -> None:
    assert _reason(b'{"specversion": ').reason == RejectReason.NOT_JSON
    assert _reason(b"\xff\xfe").reason == RejectReason.NOT_JSON


def test_json_that_is_not_a_cloudevent_is_rejected_with_the_missing_attributes() -> None:
    doc = _golden("ProjectStarted")
    del doc["id"]
    rejected = _reason(json.dumps(doc).encode())
    assert rejected.reason == RejectReason.NOT_CLOUDEVENT
    assert ["id"] in [e["loc"] for e in rejected.errors]
    assert _reason(b"[1, 2]").reason == RejectReason.NOT_CLOUDEVENT
    assert (
        _reason(json.dumps({**doc, "id": "x", "specversion": "0.3"}).encode()).reason
        == RejectReason.NOT_CLOUDEVENT
    )


def test_a_type_outside_the_contract_is_rejected_as_unknown_type() -> None:
    doc = {**_golden("ProjectStarted"), "type": "CustomerTeleported"}
    assert _reason(json.dumps(doc).encode()).reason == RejectReason.UNKNOWN_TYPE


def test_a_dataversion_we_cannot_read_is_rejected() -> None:
    doc = {**_golden("ProjectStarted"), "dataversion": 2}
    assert _reason(json.dumps(doc).encode()).reason == RejectReason.UNSUPPORTED_DATAVERSION


def test_invalid_data_is_rejected_with_every_field_error() -> None:
    doc = _golden("VisitLogged", "full")
    doc["data"]["satisfaction"] = 9
    doc["data"]["channel"] = "fax"
    doc["data"]["logged_at"] = "2026-02-14T10:30:00"  # no offset
    rejected = _reason(json.dumps(doc).encode())
    assert rejected.reason == RejectReason.INVALID_DATA
    locs = {tuple(e["loc"]) for e in rejected.errors}
    assert {("data", "satisfaction"), ("data", "channel"), ("data", "logged_at")} <= locs


def test_unknown_fields_are_ignored_so_newer_producers_stay_readable() -> None:
    doc = _golden("ProjectStarted")
    doc["data"]["site_manager"] = "someone new"
    doc["traceparent"] = "00-abc"
    assert decode(json.dumps(doc).encode()).data.customer_id == doc["data"]["customer_id"]


def test_derived_ids_are_deterministic_and_distinguish_their_parts() -> None:
    assert derived_id("VisitDue", "V-1", "1") == derived_id("VisitDue", "V-1", "1")
    assert derived_id("VisitDue", "V-1", "2") != derived_id("VisitDue", "V-1", "1")
    assert derived_id("ab", "c") != derived_id("a", "bc")


instants = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, ZoneInfo("Asia/Shanghai")]),
)


@settings(max_examples=60)
@given(now=instants, attempt=st.integers(1, 3), agent=st.none() | st.text(min_size=1, max_size=20))
def test_encode_then_decode_gives_the_same_event(now: Any, attempt: int, agent: str | None) -> None:
    data = VisitDue(
        visit_id="V",
        customer_id="C",
        kinds=["routine", "deep"],
        due_at=now,
        deadline=now,
        attempt=attempt,
        agent_id=agent,
        reason="r",
    )
    event: Event[VisitDue] = make_event(data, id="e", source="s", subject="C", time=now)
    again = decode(encode(event))
    assert again == event
    clock = make_event(ClockAdvanced(now=now), id="c", source="s", subject="clock", time=now)
    assert decode(encode(clock)) == clock


def test_asyncapi_documents_resolve_their_channels_messages_and_schemas() -> None:
    doc = build_asyncapi(
        "scheduling",
        publishes=["followup.scheduling"],
        consumes=["followup.customers", "followup.visits", "followup.issues"],
    )
    assert doc["asyncapi"] == "3.0.0"

    def resolve(ref: str) -> Any:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    assert {op["action"] for op in doc["operations"].values()} == {"send", "receive"}
    for op in doc["operations"].values():
        assert resolve(op["channel"]["$ref"])["address"].startswith("followup.")
        for m in op["messages"]:
            message = resolve(resolve(m["$ref"])["$ref"])
            assert resolve(message["payload"]["properties"]["data"]["$ref"])
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert {"CustomerDelivered", "VisitDue", "VisitLogged", "IssueResolved"} <= names
