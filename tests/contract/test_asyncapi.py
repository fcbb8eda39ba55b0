"""The AsyncAPI 3.0 document a service serves at /asyncapi describes its Kafka side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from followup.events import (
    CONTENT_TYPE,
    MODELS,
    build_asyncapi,
    json_schema,
    latest_version,
    topics,
)

from .contract_files import EXAMPLES, FORMATS, load


def scheduling() -> dict[str, Any]:
    return build_asyncapi(
        "scheduling",
        publishes=[topics.SCHEDULING],
        consumes=[topics.CUSTOMERS, topics.VISITS, topics.ISSUES, topics.CLOCK],
    )


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert part in node, f"{ref} does not resolve ({part!r} missing)"
        node = node[part]
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_the_document_is_asyncapi_3_with_the_services_info() -> None:
    doc = scheduling()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "followup scheduling"
    assert doc["info"]["version"] == "0.1.0"
    assert doc["defaultContentType"] == CONTENT_TYPE == "application/cloudevents+json"
    assert set(doc) == {
        "asyncapi",
        "info",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    }


def test_a_channel_per_topic_with_its_event_types() -> None:
    doc = scheduling()
    by_address = {c["address"]: c for c in doc["channels"].values()}
    assert set(by_address) == {
        "followup.scheduling",
        "followup.customers",
        "followup.visits",
        "followup.issues",
        "followup.clock",
    }
    names = {
        address: sorted(resolve(doc, m["$ref"])["name"] for m in c["messages"].values())
        for address, c in by_address.items()
    }
    assert names == {
        "followup.scheduling": ["VisitDeadlineRecomputed", "VisitDue"],
        "followup.customers": [
            "CustomerDelivered",
            "CustomerTierChanged",
            "IntentSigned",
            "ProjectStarted",
        ],
        "followup.visits": ["VisitAssigned", "VisitLogged", "VisitSpotChecked"],
        "followup.issues": sorted(
            [
                "IssueRaised",
                "IssueAssigned",
                "IssueResolved",
                "IssueReopened",
                "IssueClosed",
                "IssuePaused",
                "IssueResumed",
                "IssueSlaBreached",
                "IssueDeadlinesRecomputed",
                "IssueResponded",
                "IssueSlaWarning",
                "IssueEscalated",
            ]
        ),
        "followup.clock": ["ClockAdvanced"],
    }
    for address, channel in by_address.items():
        kafka = channel["bindings"]["kafka"]
        assert kafka["topic"] == address
        # The intake buffer keeps a week of producers' plaintext (SPEC §8); the rest forever.
        week = 7 * 86_400_000
        retention = week if address == "followup.customers" else -1
        assert kafka["topicConfiguration"]["retention.ms"] == retention


def test_operations_send_what_the_service_publishes_and_receive_what_it_consumes() -> None:
    doc = scheduling()
    by_action: dict[str, set[str]] = {"send": set(), "receive": set()}
    for op in doc["operations"].values():
        channel = resolve(doc, op["channel"]["$ref"])
        by_action[op["action"]].add(channel["address"])
        # Every message of an operation is one of its channel's messages.
        assert op["messages"]
        for m in op["messages"]:
            assert m["$ref"].startswith(op["channel"]["$ref"] + "/messages/")
            assert resolve(doc, m["$ref"]) in channel["messages"].values()
    assert by_action == {
        "send": {"followup.scheduling"},
        "receive": {"followup.customers", "followup.visits", "followup.issues", "followup.clock"},
    }


def test_every_ref_in_the_document_resolves() -> None:
    doc = build_asyncapi(
        "visits",
        publishes=[topics.VISITS, topics.DEAD_LETTER],
        consumes=[topics.SCHEDULING, topics.CUSTOMERS],
    )
    found = list(refs(doc))
    assert len(found) > 20
    for ref in found:
        resolve(doc, ref)


def test_messages_are_cloudevents_keyed_by_customer_with_the_contracts_data_schema() -> None:
    doc = scheduling()
    schemas = doc["components"]["schemas"]
    for msg_id, message in doc["components"]["messages"].items():
        type_name = message["name"]
        assert msg_id == type_name
        assert message["contentType"] == CONTENT_TYPE
        key = message["bindings"]["kafka"]["key"]
        if type_name == "ClockAdvanced":
            assert key["const"] == "clock"
        else:
            assert "customer_id" in key["description"]
        payload = message["payload"]
        assert payload["properties"]["type"] == {"const": type_name}
        dataversion = payload["properties"]["dataversion"]
        assert (dataversion["minimum"], dataversion["maximum"]) == (1, latest_version(type_name))
        data = resolve(doc, payload["properties"]["data"]["$ref"])
        # The data schema is the contract's, with nested models moved to components.
        expected = json_schema(
            type_name, ref_template=f"#/components/schemas/{type_name}.{{model}}"
        )
        defs = expected.pop("$defs", {})
        assert data == expected
        for name, sub in defs.items():
            assert schemas[f"{type_name}.{name}"] == sub


def _payload_validator(doc: dict[str, Any], msg_id: str) -> jsonschema.Draft202012Validator:
    uri = "urn:followup:asyncapi"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"{uri}#/components/messages/{msg_id}/payload"},
        registry=registry,
        format_checker=FORMATS,
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_golden_example_is_valid_against_its_asyncapi_message(path: Any) -> None:
    doc = build_asyncapi("analytics", publishes=[], consumes=list(topics.ALL_TOPICS))
    example = load(path)
    validator = _payload_validator(doc, example["type"])
    validator.validate(example)
    # And the payload schema is not vacuous: a broken example fails it.
    # A required field of the wrong type (control events name no customer).
    field = "customer_id" if "customer_id" in example["data"] else next(iter(example["data"]))
    broken = {**example, "data": {**example["data"], field: 42}}
    if example["type"] == "ClockAdvanced":
        broken = {**example, "data": {"now": "yesterday"}}
    assert not validator.is_valid(broken)
    assert not validator.is_valid({**example, "type": "Other"})
    assert not validator.is_valid({**example, "dataversion": latest_version(example["type"]) + 1})


def test_the_dead_letter_channel_keeps_the_original_bytes_and_says_why_in_headers() -> None:
    doc = build_asyncapi("issues", publishes=[topics.ISSUES, topics.DEAD_LETTER], consumes=[])
    channel = doc["channels"]["followup_dead_letter"]
    (ref,) = [m["$ref"] for m in channel["messages"].values()]
    message = resolve(doc, ref)
    headers = message["headers"]["properties"]
    assert {"consumer", "reason", "original_topic", "original_partition", "original_offset"} <= set(
        headers
    )
    assert message["payload"] == {}


def test_a_topic_outside_the_contract_is_refused() -> None:
    with pytest.raises(ValueError, match=r"followup\.unknown"):
        build_asyncapi("x", publishes=["followup.unknown"], consumes=[])


def test_every_type_of_the_contract_has_a_message_when_everything_is_consumed() -> None:
    doc = build_asyncapi("analytics", publishes=[], consumes=list(topics.ALL_TOPICS))
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == set(MODELS) | {"DeadLetter", "CustomerKey"}
