"""The JSON Schema snapshots (libs/events/contract/schemas/) pin the contract.

A model change makes `test_the_models_generate_exactly_the_latest_snapshot` fail, so it needs a
deliberate new snapshot (a new dataversion); a new dataversion may only add optional fields.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest
from pydantic import Field

from followup.events import (
    MODELS,
    Envelope,
    RejectedMessage,
    RejectReason,
    VisitDue,
    decode,
    json_schema,
    latest_version,
)

from .contract_files import (
    CONTRACT,
    ENVELOPE_SNAPSHOT,
    EXAMPLES,
    additive_violations,
    example_version,
    is_valid,
    load,
    snapshots,
)

TYPES_AND_VERSIONS = [(t, v) for t, vs in MODELS.items() for v in vs]


def test_there_is_a_snapshot_for_every_registered_type_and_version_and_no_other() -> None:
    on_disk = {(t, v) for t, vs in snapshots().items() for v in vs}
    assert on_disk == set(TYPES_AND_VERSIONS)
    assert ENVELOPE_SNAPSHOT.exists()


@pytest.mark.parametrize("type_name", list(MODELS))
def test_the_models_generate_exactly_the_latest_snapshot(type_name: str) -> None:
    """Change a model and this fails: write a new dataversion and its snapshot and example."""
    v = latest_version(type_name)
    assert json_schema(type_name) == load(snapshots()[type_name][v]), (
        f"{type_name} v{v} no longer generates its snapshot; see libs/events/README.md"
    )


def test_the_envelope_model_generates_its_snapshot() -> None:
    assert Envelope.model_json_schema() == load(ENVELOPE_SNAPSHOT)


@pytest.mark.parametrize("type_name", list(MODELS))
def test_later_snapshots_only_add_optional_fields(type_name: str) -> None:
    versions = snapshots()[type_name]
    ordered = [load(versions[v]) for v in sorted(versions)]
    assert sorted(versions) == list(range(1, len(versions) + 1)), "dataversions are 1, 2, 3..."
    for older_i, older in enumerate(ordered):
        for newer in ordered[older_i + 1 :]:
            assert additive_violations(older, newer) == []


@pytest.mark.parametrize("type_name", list(MODELS))
def test_old_schemas_accept_every_newer_example_and_new_schemas_every_older_one(
    type_name: str,
) -> None:
    """FULL_TRANSITIVE, spelled out by version (the example tests check it per file)."""
    versions = snapshots()[type_name]
    for path in (p for p in EXAMPLES if p.parent.name == type_name):
        data = load(path)["data"]
        for v, snapshot in versions.items():
            assert is_valid(data, load(snapshot)), f"{path.name} v{example_version(path)} vs v{v}"


# The checker above must itself catch what it is there for.


def _schema_of(type_name: str) -> dict[str, Any]:
    return copy.deepcopy(load(snapshots()[type_name][1]))


def test_the_additive_check_accepts_a_new_optional_field_even_in_a_nested_model() -> None:
    old = _schema_of("VisitLogged")
    new = _schema_of("VisitLogged")
    new["properties"]["channel_detail"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    new["$defs"]["Checklist"]["properties"]["installation"] = {"type": "integer"}
    new["$defs"]["Checklist"]["description"] = "reworded"
    assert additive_violations(old, new) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["properties"].pop("feedback"), "data.feedback: removed"),
        (lambda s: s["required"].append("feedback"), "data.feedback: newly required"),
        (
            lambda s: s["properties"]["channel"]["enum"].remove("video"),
            "data.channel: enum changed",
        ),
        (
            lambda s: s["$defs"]["Problem"]["required"].append("problem_code"),
            "data.problems.anyOf[0][].problem_code: newly required",
        ),
        (
            lambda s: s["$defs"]["Checklist"].update(additionalProperties=False),
            "data.checklist.anyOf[0]: unknown fields newly forbidden",
        ),
        (
            lambda s: s["properties"]["satisfaction"]["anyOf"][0].update(maximum=10),
            "data.satisfaction.anyOf[0]: maximum changed",
        ),
    ],
)
def test_the_additive_check_rejects_a_breaking_change(change: Any, expected: str) -> None:
    old = _schema_of("VisitLogged")
    new = _schema_of("VisitLogged")
    change(new)
    assert expected in additive_violations(old, new)


# The snapshot script refuses to overwrite what others rely on.


def _script() -> ModuleType:
    path = CONTRACT.parent / "scripts" / "snapshot_schemas.py"
    spec = importlib.util.spec_from_file_location("snapshot_schemas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_snapshot_script_writes_missing_snapshots_and_matches_the_committed_ones(
    tmp_path: Path,
) -> None:
    script = _script()
    assert script.main(["--dir", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.iterdir()}
    committed = {p.name for p in (CONTRACT / "schemas").iterdir()}
    # The script writes each type's latest snapshot; earlier ones are committed history.
    latest = {f"{name}.v{latest_version(name)}.json" for name in MODELS} | {"Envelope.json"}
    assert written == latest and written <= committed
    for name in written:
        assert load(tmp_path / name) == load(CONTRACT / "schemas" / name)
    assert script.main(["--check"]) == 0  # the committed snapshots are current


def test_the_snapshot_script_refuses_to_overwrite_a_differing_snapshot_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    target = tmp_path / "ProjectStarted.v1.json"
    stale = {"title": "an older contract"}
    target.write_text(json.dumps(stale))
    assert script.main(["--dir", str(tmp_path)]) == 1
    assert json.loads(target.read_text()) == stale
    assert "ProjectStarted.v1.json" in capsys.readouterr().err
    assert script.main(["--dir", str(tmp_path), "--check"]) == 1
    assert script.main(["--dir", str(tmp_path), "--force"]) == 0
    assert json.loads(target.read_text()) == json_schema("ProjectStarted")


# A rehearsal of README's procedures on VisitDue, without touching the files.


def test_rehearsal_adding_an_optional_field_makes_a_compatible_dataversion_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class VisitDueV2(VisitDue):  # VisitDue after the change
        priority: Annotated[int, Field(ge=1, le=3)] | None = None

    monkeypatch.setitem(MODELS, "VisitDue", {1: VisitDueV2, 2: VisitDueV2})
    v1_snapshot = load(snapshots()["VisitDue"][1])
    v2_snapshot = VisitDueV2.model_json_schema()
    assert additive_violations(v1_snapshot, v2_snapshot) == []
    old_examples = [p for p in EXAMPLES if p.parent.name == "VisitDue"]
    for path in old_examples:  # old documents: read by the new model, valid under the new schema
        event = decode(path.read_bytes())
        assert isinstance(event.data, VisitDueV2) and event.data.priority is None
        assert is_valid(load(path)["data"], v2_snapshot)
    new_doc = load(old_examples[0])
    new_doc.update(dataversion=2, data={**new_doc["data"], "priority": 2})
    assert is_valid(new_doc["data"], v1_snapshot)  # and the old schema accepts the new document
    event = decode(json.dumps(new_doc).encode())
    assert isinstance(event.data, VisitDueV2)
    assert (event.dataversion, event.data.priority) == (2, 2)


def test_rehearsal_a_new_required_field_is_caught_as_breaking() -> None:
    class VisitDueBroken(VisitDue):
        priority: int

    v1_snapshot = load(snapshots()["VisitDue"][1])
    broken = VisitDueBroken.model_json_schema()
    assert "data.priority: newly required" in additive_violations(v1_snapshot, broken)
    assert not any(
        is_valid(load(p)["data"], broken) for p in EXAMPLES if p.parent.name == "VisitDue"
    )


def test_a_reader_rejects_a_dataversion_newer_than_it_knows() -> None:
    """Before the bump, a v2 document is unsupported: upgrade consumers before producers."""
    doc = load(next(p for p in EXAMPLES if p.parent.name == "VisitDue"))
    doc.update(dataversion=latest_version("VisitDue") + 1)
    with pytest.raises(RejectedMessage) as err:
        decode(json.dumps(doc).encode())
    assert err.value.reason is RejectReason.UNSUPPORTED_DATAVERSION
