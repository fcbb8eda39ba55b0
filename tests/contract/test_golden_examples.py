"""Golden examples (libs/events/contract/examples/) against today's models and every snapshot.

Schema Registry's FULL_TRANSITIVE without a registry: every example, old or new, must decode
with today's models, validate under today's generated schema, and validate under every schema
snapshot of its type, old and new.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from followup.events import (
    MODELS,
    ContractModel,
    Envelope,
    decode,
    encode,
    json_schema,
    latest_version,
)

from .contract_files import (
    ENVELOPE_SNAPSHOT,
    EXAMPLES,
    EXAMPLES_DIR,
    example_id,
    example_version,
    load,
    snapshots,
    validate,
)

examples = pytest.mark.parametrize("path", EXAMPLES, ids=example_id)


def test_the_examples_cover_every_type_and_version_of_the_contract() -> None:
    on_disk = {p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir()}
    assert on_disk == set(MODELS), "an example directory per type, and no other"
    for type_name, versions in MODELS.items():
        for v in versions:
            found = [p for p in EXAMPLES if p.parent.name == type_name and example_version(p) == v]
            assert found, f"no golden example of {type_name} v{v}"


@examples
def test_an_example_is_a_well_formed_cloudevent_of_its_directory_type(path: Path) -> None:
    doc = load(path)
    assert doc["type"] == path.parent.name
    assert doc["dataversion"] == example_version(path)
    assert doc["specversion"] == "1.0"
    assert doc["datacontenttype"] == "application/json"
    # SPEC §6: the subject (the Kafka key) is the customer id; "clock" on followup.clock.
    # On followup.control, what the event configures (SPEC §11).
    expected_subject = {
        "ClockAdvanced": "clock",
        "PolicyActivated": "policy",
        "CalendarYearPublished": f"calendar/{doc['data'].get('region')}",
    }.get(doc["type"])
    assert doc["subject"] == (expected_subject or doc["data"]["customer_id"])
    # SPEC task: concrete 2026 times in China's offset.
    assert doc["time"].startswith("2026-") and doc["time"].endswith("+08:00")


@examples
def test_every_example_decodes_with_the_current_models(path: Path) -> None:
    raw = path.read_bytes()
    doc = load(path)
    event = decode(raw)
    assert (event.type, event.dataversion, event.id, event.subject) == (
        doc["type"],
        doc["dataversion"],
        doc["id"],
        doc["subject"],
    )
    assert event.correlationid == doc.get("correlationid")
    assert event.causationid == doc.get("causationid")
    assert isinstance(event.data, MODELS[doc["type"]][doc["dataversion"]])
    # Nothing the example says is lost: re-encoding gives the same document, times with the
    # same instants and offsets (the example may write UTC as Z or +00:00).
    again = orjson.loads(encode(event))
    assert _times_as_instants(again) == _times_as_instants(doc)


@examples
def test_every_example_validates_under_every_snapshot_of_its_type(path: Path) -> None:
    doc = load(path)
    versions = snapshots()[doc["type"]]
    assert versions, "a type without a snapshot"
    for _, snapshot in sorted(versions.items()):
        try:
            validate(doc["data"], load(snapshot))
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{path.name} is not valid under {snapshot.name}: {exc}")


@examples
def test_every_example_validates_under_the_current_models_schema(path: Path) -> None:
    doc = load(path)
    validate(doc["data"], json_schema(doc["type"]))


@examples
def test_every_example_validates_under_the_envelope_schema(path: Path) -> None:
    doc = load(path)
    validate(doc, load(ENVELOPE_SNAPSHOT))
    validate(doc, Envelope.model_json_schema())


def _optional_fields(model: type[ContractModel]) -> set[str]:
    return {name for name, f in model.model_fields.items() if not f.is_required()}


def _nested_model(annotation: Any) -> type[ContractModel] | None:
    """The contract model inside `X | None`, `list[X]` and the like, if any."""
    if isinstance(annotation, type) and issubclass(annotation, ContractModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _all_keys(model: type[ContractModel], at: str = "") -> set[str]:
    """Dotted names of every field, nested contract models (also in lists) included."""
    out: set[str] = set()
    for name, field in model.model_fields.items():
        out.add(at + name)
        nested = _nested_model(field.annotation)
        if nested is not None:
            out |= _all_keys(nested, f"{at}{name}.")
    return out


def _present_keys(data: dict[str, Any], model: type[ContractModel], at: str = "") -> set[str]:
    """Dotted names of the fields an example's data shows."""
    out: set[str] = set()
    for name, field in model.model_fields.items():
        if data.get(name) is None:
            continue
        out.add(at + name)
        nested = _nested_model(field.annotation)
        value = data[name]
        items = value if isinstance(value, list) else [value]
        if nested is not None:
            for item in items:
                out |= _present_keys(item, nested, f"{at}{name}.")
    return out


@pytest.mark.parametrize("type_name", list(MODELS))
def test_each_type_has_a_full_example_and_a_minimal_one(type_name: str) -> None:
    """One example shows every optional field (nested ones too), one shows none of them."""
    v = latest_version(type_name)
    model = MODELS[type_name][v]
    docs = [load(p) for p in EXAMPLES if p.parent.name == type_name and example_version(p) == v]
    every = _all_keys(model)
    assert any(_present_keys(d["data"], model) == every for d in docs), (
        f"no {type_name} v{v} example with every optional field"
    )
    if _optional_fields(model):
        assert any(not (set(d["data"]) & _optional_fields(model)) for d in docs), (
            f"no minimal {type_name} v{v} example"
        )
    envelope_optional = {"correlationid", "causationid"}
    if len(docs) > 1:
        assert any(envelope_optional <= set(d) for d in docs), "no example with both ids"
        assert any(not (envelope_optional & set(d)) for d in docs), "no example without them"


def _times_as_instants(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _times_as_instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times_as_instants(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        parsed = datetime.fromisoformat(value)
        return (parsed, parsed.utcoffset())
    return value


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d.update(logged_at="2026-02-14T10:30:00"),  # no offset
        lambda d: d.update(logged_at="2026-02-30T10:30:00+08:00"),  # no such day
        lambda d: d.update(channel="fax"),
        lambda d: d.update(satisfaction=6),
        lambda d: d.pop("agent_id"),
        lambda d: d["problems"][0].update(severity="critical"),
    ],
)
def test_the_snapshot_check_is_not_vacuous(break_it: Any) -> None:
    doc = load(EXAMPLES_DIR / "VisitLogged" / "v1-full.json")
    validate(doc["data"], load(snapshots()["VisitLogged"][1]))
    break_it(doc["data"])
    with pytest.raises(jsonschema.ValidationError):
        validate(doc["data"], load(snapshots()["VisitLogged"][1]))
