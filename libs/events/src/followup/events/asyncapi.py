"""AsyncAPI 3.0 documents for a service's Kafka side, built from the contract's models."""

from __future__ import annotations

from typing import Any

from followup.events import topics
from followup.events.registry import MODELS

_TOPIC_DESCRIPTIONS = {
    topics.CUSTOMERS: "Deliveries, signed intents and project starts from external systems.",
    topics.SCHEDULING: "Visits that have come due.",
    topics.VISITS: "Visit logs and spot checks.",
    topics.ISSUES: "The issue lifecycle.",
    topics.DEAD_LETTER: "Messages a consumer could not accept; reason in headers.",
    topics.CLOCK: "ClockAdvanced control events (simulated mode only).",
}


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


def _envelope_schema(type_name: str, version: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "subject", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "unique; the idempotency key"},
            "source": {"type": "string"},
            "type": {"const": type_name},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "description": "the customer id (also the key)"},
            "datacontenttype": {"const": "application/json"},
            "dataversion": {"const": version},
            "correlationid": {"type": "string"},
            "causationid": {"type": "string"},
            "data": {"$ref": f"#/components/schemas/{type_name}.v{version}"},
        },
    }


def build_asyncapi(
    service: str, *, publishes: list[str], consumes: list[str], version: str = "0.1.0"
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service: its channels, messages and operations."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in dict.fromkeys([*publishes, *consumes]):
        channel_messages = {}
        for type_name, versions in MODELS.items():
            if topics.topic_for(type_name) != topic:
                continue
            for v, model in versions.items():
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in schema.pop("$defs", {}).items():
                    schemas[name] = sub
                schemas[f"{type_name}.v{v}"] = schema
                msg_id = f"{type_name}.v{v}"
                messages[msg_id] = {
                    "name": type_name,
                    "contentType": "application/cloudevents+json",
                    "payload": _envelope_schema(type_name, v),
                    "bindings": {
                        "kafka": {"key": {"type": "string", "description": "customer_id"}}
                    },
                }
                channel_messages[msg_id] = {"$ref": f"#/components/messages/{msg_id}"}
        channels[_channel_id(topic)] = {
            "address": topic,
            "description": _TOPIC_DESCRIPTIONS.get(topic, ""),
            "messages": channel_messages,
        }
    operations: dict[str, Any] = {}
    for action, names in (("send", publishes), ("receive", consumes)):
        for topic in names:
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
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
