"""AsyncAPI 3.0 documents for a service's Kafka side, built from the contract's models."""

from __future__ import annotations

from typing import Any

from followup.events import topics
from followup.events.envelope import CONTENT_TYPE
from followup.events.registry import json_schema, latest_version

_KAFKA_BINDING = "0.5.0"

_TOPIC_DESCRIPTIONS = {
    topics.CUSTOMERS: "Deliveries, signed intents and project starts from external systems.",
    topics.SCHEDULING: "Visits that have come due.",
    topics.VISITS: "Visit logs and spot checks.",
    topics.ISSUES: "The issue lifecycle.",
    topics.DEAD_LETTER: "Messages a consumer could not accept; reason in headers.",
    topics.CLOCK: "ClockAdvanced control events (simulated mode only).",
    topics.CUSTOMERS_SEALED: "The intake's events, personal data sealed with customer keys.",
    topics.KEYS: "Customer data keys, wrapped by the master key; a tombstone erases.",
    topics.CONTROL: "Operators' control events.",
}

_CUSTOMER_KEY = {
    "name": "CustomerKey",
    "title": "A customer's data key, wrapped (not a CloudEvent)",
    "description": "Key: customer_id. Value: the wrapped key (followup.core.sealing), or none"
    " (a tombstone: the customer is erased).",
    "payload": {"type": "string", "format": "binary"},
}

_HEADERS = {
    "type": "object",
    "properties": {"content-type": {"const": CONTENT_TYPE}},
}

_DEAD_LETTER_HEADERS = {
    "type": "object",
    "description": "The original message's headers, followed by these.",
    "required": ["consumer", "reason", "original_topic", "original_partition", "original_offset"],
    "properties": {
        "consumer": {"type": "string", "description": "the consumer that rejected it"},
        "reason": {
            "type": "string",
            "description": "not_json, not_cloudevent, unknown_type, unsupported_dataversion,"
            " invalid_data, or a consumer's own reason (a handler that kept failing)",
        },
        "error_type": {"type": "string"},
        "error": {"type": "string", "description": "the error, truncated"},
        "original_topic": {"type": "string"},
        "original_partition": {"type": "string", "description": "decimal"},
        "original_offset": {"type": "string", "description": "decimal"},
        "original_timestamp": {"type": "string", "description": "milliseconds, decimal"},
        "event_id": {"type": "string"},
        "event_type": {"type": "string"},
    },
}


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


def _key_binding(topic: str) -> dict[str, Any]:
    key = (
        {"type": "string", "const": topics.CLOCK_KEY}
        if topic == topics.CLOCK
        else {"type": "string", "description": "customer_id (the CloudEvent's subject)"}
    )
    return {"kafka": {"key": key, "bindingVersion": _KAFKA_BINDING}}


def _envelope_schema(type_name: str, latest: int) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A CloudEvents 1.0 document in structured mode.",
        "required": ["specversion", "id", "source", "type", "time", "subject", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "unique; the idempotency key"},
            "source": {"type": "string"},
            "type": {"const": type_name},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "description": "the customer id (also the key)"},
            "datacontenttype": {"const": "application/json"},
            "dataversion": {
                "type": "integer",
                "minimum": 1,
                "maximum": latest,
                "description": f"written at {latest}; readers accept 1 to {latest}"
                " (later versions only add optional fields)",
            },
            "correlationid": {"type": "string"},
            "causationid": {"type": "string", "description": "id of the event that caused it"},
            "data": {"$ref": f"#/components/schemas/{type_name}"},
        },
    }


def _event_messages(
    topic: str, messages: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    """Adds the messages (and data schemas) of a topic's event types; returns channel refs."""
    channel_messages: dict[str, Any] = {}
    for type_name in topics.types_on(topic):
        latest = latest_version(type_name)
        # Nested models are named per event type (`VisitLogged.Problem`), so two types can
        # never overwrite each other's.
        schema = json_schema(type_name, ref_template=f"#/components/schemas/{type_name}.{{model}}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[f"{type_name}.{name}"] = sub
        schemas[type_name] = schema
        messages[type_name] = {
            "name": type_name,
            "title": f"{type_name} (dataversion {latest})",
            "contentType": CONTENT_TYPE,
            "headers": _HEADERS,
            "payload": _envelope_schema(type_name, latest),
            "bindings": _key_binding(topic),
        }
        channel_messages[type_name] = {"$ref": f"#/components/messages/{type_name}"}
    return channel_messages


def build_asyncapi(
    service: str, *, publishes: list[str], consumes: list[str], version: str = "0.1.0"
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service: its channels, messages and operations.

    `publishes` and `consumes` are topic names (`followup.events.topics`); ValueError for one
    outside the contract.
    """
    unknown = [t for t in [*publishes, *consumes] if t not in topics.ALL_TOPICS]
    if unknown:
        raise ValueError(f"topics outside the contract: {unknown}")
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in dict.fromkeys([*publishes, *consumes]):
        if topic == topics.DEAD_LETTER:
            messages["DeadLetter"] = {
                "name": "DeadLetter",
                "title": "A rejected message, kept as it was",
                "description": "The original key and value bytes, unchanged.",
                "headers": _DEAD_LETTER_HEADERS,
                "payload": {},
            }
            channel_messages = {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
        elif topic == topics.KEYS:
            messages["CustomerKey"] = {**_CUSTOMER_KEY, "bindings": _key_binding(topic)}
            channel_messages = {"CustomerKey": {"$ref": "#/components/messages/CustomerKey"}}
        else:
            channel_messages = _event_messages(topic, messages, schemas)
        channels[_channel_id(topic)] = {
            "address": topic,
            "description": _TOPIC_DESCRIPTIONS[topic],
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "topicConfiguration": (
                        {"cleanup.policy": ["compact"]}
                        if topic == topics.KEYS
                        else {"retention.ms": int(topics.config_for(topic)["retention.ms"])}
                    ),
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
    operations: dict[str, Any] = {}
    for action, names in (("send", publishes), ("receive", consumes)):
        for topic in dict.fromkeys(names):
            cid = _channel_id(topic)
            operations[f"{action}_{cid}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "messages": [
                    {"$ref": f"#/channels/{cid}/messages/{m}"} for m in channels[cid]["messages"]
                ],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"followup {service}",
            "version": version,
            "description": "Every message is a CloudEvents 1.0 document in structured mode,"
            " keyed by customer_id.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
