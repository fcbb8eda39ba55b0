"""Personal fields of the contract's events: every free text classified, sealed in place."""

from __future__ import annotations

from typing import Any

import orjson

from followup.core.personal import (
    ERASED_TEXT,
    NOT_PERSONAL,
    PERSONAL_FIELDS,
    erase_personal,
    has_personal_data,
    seal_personal,
    unseal_personal,
)
from followup.core.sealing import ERASED, is_sealed, new_data_key
from followup.events.registry import TYPE_NAMES, json_schema, model_for

FREE_TEXT_MIN_LENGTH = 1000  # Id is at most 200 characters; Text and descriptions 4000

DELIVERED: dict[str, Any] = {
    "customer_id": "C-000123",
    "order_id": "O-77",
    "delivered_at": "2026-01-20T10:00:00+08:00",
    "product": "Home cinema 7.1",
    "tier": "gold",
    "segment": "individual",
    "contact": {"name": "Wang Fang", "phone": "+86 138 0013 8000"},
}
LOGGED: dict[str, Any] = {
    "visit_id": "V-1",
    "customer_id": "C-000123",
    "agent_id": "A-7",
    "channel": "phone",
    "outcome": "completed",
    "logged_at": "2026-02-03T15:00:00+08:00",
    "feedback": "Call me on 138 0013 8000 after six.",
    "problems": [
        {
            "problem_id": "P-1",
            "category": "fault",
            "severity": "general",
            "description": "Subwoofer hums; 138 0013 8000",
        }
    ],
}


def _free_text_paths(schema: dict[str, Any]) -> set[str]:
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], path: str) -> set[str]:
        if "$ref" in node:
            return walk(defs[node["$ref"].rsplit("/", 1)[-1]], path)
        found: set[str] = set()
        for option in node.get("anyOf", []):
            found |= walk(option, path)
        if node.get("type") == "string" and node.get("maxLength", 0) >= FREE_TEXT_MIN_LENGTH:
            found.add(path)
        if node.get("type") == "array":
            found |= walk(node["items"], f"{path}[]")
        for name, sub in node.get("properties", {}).items():
            found |= walk(sub, f"{path}.{name}" if path else name)
        return found

    return walk(schema, "")


def test_every_free_text_field_of_the_contract_is_classified_personal_or_not() -> None:
    for type_name in TYPE_NAMES:
        found = _free_text_paths(json_schema(type_name))
        personal = set(PERSONAL_FIELDS.get(type_name, ()))
        other = set(NOT_PERSONAL.get(type_name, ()))
        assert not personal & other, type_name
        assert found == personal | other, (
            f"{type_name}: classify {sorted(found - personal - other)} in followup.core.personal"
            f"; {sorted((personal | other) - found)} are not free text"
        )


def test_a_delivery_sealed_keeps_its_shape_and_opens_to_what_it_was() -> None:
    key = new_data_key("C-000123")
    sealed = seal_personal("CustomerDelivered", DELIVERED, key)
    assert is_sealed(sealed["contact"]["name"]) and is_sealed(sealed["contact"]["phone"])
    assert "email" not in sealed["contact"]
    assert sealed["product"] == "Home cinema 7.1" and sealed["tier"] == "gold"
    assert b"8000" not in orjson.dumps(sealed) and b"Wang" not in orjson.dumps(sealed)
    model_for("CustomerDelivered").model_validate_json(orjson.dumps(sealed))
    assert DELIVERED["contact"]["name"] == "Wang Fang"  # the input is not changed
    assert unseal_personal("CustomerDelivered", sealed, key) == DELIVERED


def test_a_visit_log_has_its_feedback_and_each_problem_description_sealed() -> None:
    key = new_data_key("C-000123")
    sealed = seal_personal("VisitLogged", LOGGED, key)
    assert is_sealed(sealed["feedback"]) and is_sealed(sealed["problems"][0]["description"])
    assert sealed["problems"][0]["category"] == "fault"
    assert LOGGED["problems"][0]["description"].startswith("Subwoofer")
    model_for("VisitLogged").model_validate_json(orjson.dumps(sealed))
    assert unseal_personal("VisitLogged", sealed, key) == LOGGED


def test_sealing_twice_changes_nothing_more() -> None:
    key = new_data_key("C-000123")
    once = seal_personal("VisitLogged", LOGGED, key)
    assert seal_personal("VisitLogged", once, key) == once


def test_once_the_key_is_erased_every_personal_field_reads_erased() -> None:
    key = new_data_key("C-000123")
    sealed = seal_personal("VisitLogged", LOGGED, key)
    opened = unseal_personal("VisitLogged", sealed, ERASED)
    assert opened["feedback"] == ERASED_TEXT == "[erased]"
    assert opened["problems"][0]["description"] == ERASED_TEXT
    assert opened["agent_id"] == "A-7"
    # Plaintext from before sealing is not shown for an erased customer either.
    assert unseal_personal("VisitLogged", LOGGED, ERASED)["feedback"] == ERASED_TEXT
    assert erase_personal("CustomerDelivered", DELIVERED)["contact"] == {
        "name": ERASED_TEXT,
        "phone": ERASED_TEXT,
    }


def test_an_event_without_personal_data_passes_unchanged() -> None:
    due = {"visit_id": "V-1", "customer_id": "C-1", "reason": "first use"}
    assert not has_personal_data("VisitDue") and has_personal_data("IssueRaised")
    assert seal_personal("VisitDue", due, new_data_key("C-1")) == due
