"""Topics, the registry and the models' constraints as SPEC §3, §4 and §6 state them."""

from __future__ import annotations

from typing import Any

import pytest

from followup.events import (
    ALL_TOPICS,
    MODELS,
    TYPE_NAMES,
    Checklist,
    VisitDue,
    VisitLogged,
    json_schema,
    latest_version,
    model_for,
    topic_for,
    topics,
    type_of,
    types_on,
)

SPEC_TOPICS = {
    # CustomerTierChanged added with SPEC §11 (2026-12).
    "followup.customers": [
        "CustomerDelivered",
        "IntentSigned",
        "ProjectStarted",
        "CustomerTierChanged",
    ],
    "followup.scheduling": ["VisitDue", "VisitDeadlineRecomputed"],
    # VisitAssigned added with SPEC §10 (2026-12).
    "followup.visits": ["VisitLogged", "VisitSpotChecked", "VisitAssigned"],
    "followup.issues": [
        "IssueRaised",
        "IssueAssigned",
        "IssueResolved",
        "IssueReopened",
        "IssueClosed",
        # Added to the contract after SPEC's first list (additions only, never a rename).
        "IssuePaused",
        "IssueResumed",
        "IssueSlaBreached",
        "IssueDeadlinesRecomputed",
        "IssueResponded",
        "IssueSlaWarning",
        "IssueEscalated",
    ],
    "followup.dead-letter": [],
    "followup.clock": ["ClockAdvanced"],
    # Added with SPEC §8 (2026-12): the intake's sealed copy carries the customers' types.
    "followup.customers.sealed": [
        "CustomerDelivered",
        "IntentSigned",
        "ProjectStarted",
        "CustomerTierChanged",
    ],
    "followup.keys": [],
    # CustomerErased added with SPEC §8's erasure (2026-12), keyed by the customer id.
    "followup.control": ["PolicyActivated", "CalendarYearPublished", "CustomerErased"],
}


def test_the_topics_are_the_specs() -> None:
    assert tuple(SPEC_TOPICS) == (
        topics.CUSTOMERS,
        topics.SCHEDULING,
        topics.VISITS,
        topics.ISSUES,
        topics.DEAD_LETTER,
        topics.CLOCK,
        topics.CUSTOMERS_SEALED,
        topics.KEYS,
        topics.CONTROL,
    )
    assert tuple(SPEC_TOPICS) == ALL_TOPICS


def test_each_type_belongs_to_its_producers_topic() -> None:
    for topic, type_names in SPEC_TOPICS.items():
        assert list(types_on(topic)) == type_names
        producers_topic = topics.CUSTOMERS if topic == topics.CUSTOMERS_SEALED else topic
        for type_name in type_names:
            assert topic_for(type_name) == producers_topic
    assert set(TYPE_NAMES) == {t for names in SPEC_TOPICS.values() for t in names}
    with pytest.raises(KeyError):
        topic_for("CustomerTeleported")


# Types at a later dataversion (each one only added optional fields).
LATER_VERSIONS = {"IssueRaised": 3, "IssueAssigned": 2, "VisitLogged": 2}


def test_the_registry_reads_every_type_at_every_version_up_to_its_latest() -> None:
    for type_name in TYPE_NAMES:
        latest = LATER_VERSIONS.get(type_name, 1)
        assert latest_version(type_name) == latest
        model = model_for(type_name)
        assert model is MODELS[type_name][1] is model_for(type_name, latest)
        assert model.__name__ == type_name
        assert type_of(model) == (type_name, latest)
        assert set(MODELS[type_name]) == set(range(1, latest_version(type_name) + 1))
    with pytest.raises(TypeError):
        type_of(Checklist)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        model_for("VisitDue", 2)


def _enum(schema: dict[str, Any], field: str) -> list[str]:
    prop = schema["properties"][field]
    for alternative in [prop, *prop.get("anyOf", [])]:
        if "enum" in alternative:
            return list(alternative["enum"])
        if "items" in alternative:
            items = alternative["items"]
            if "$ref" in items:
                items = schema["$defs"][items["$ref"].split("/")[-1]]
            if "enum" in items:
                return list(items["enum"])
    raise AssertionError(f"{field} lists no allowed values")


@pytest.mark.parametrize(
    ("type_name", "field", "values"),
    [
        ("CustomerDelivered", "tier", ["gold", "silver", "bronze"]),
        ("CustomerDelivered", "segment", ["individual", "enterprise", "institution"]),
        ("IntentSigned", "tier", ["gold", "silver", "bronze"]),
        ("CustomerTierChanged", "tier", ["gold", "silver", "bronze"]),
        (
            "VisitDue",
            "kinds",
            [
                "first_use",
                "routine",
                "deep",
                "key_deep",
                "quarterly",
                "holiday_care",
                "intent_follow_up",
                "issue_follow_up",
                "special",
                "retry",
            ],
        ),
        ("VisitLogged", "channel", ["phone", "onsite", "video", "message"]),
        ("VisitLogged", "outcome", ["completed", "unreachable", "declined", "rescheduled"]),
        ("VisitLogged", "needs", ["upgrade", "maintenance_plan", "new_feature", "referral"]),
        ("VisitSpotChecked", "result", ["verified", "not_verified"]),
        ("IssueRaised", "source", ["visit", "complaint", "hotline"]),
        (
            "IssueRaised",
            "category",
            ["fault", "maintenance", "technical", "complaint", "service", "other"],
        ),
        ("IssueRaised", "severity", ["general", "complex"]),
        ("IssueRaised", "department", ["after_sales", "technical", "customer_service"]),
        ("IssueAssigned", "department", ["after_sales", "technical", "customer_service"]),
    ],
)
def test_the_json_schema_lists_the_allowed_values(
    type_name: str, field: str, values: list[str]
) -> None:
    assert _enum(json_schema(type_name), field) == values


def test_problems_use_the_issue_categories_and_severities() -> None:
    schema = json_schema("VisitLogged")
    problem = schema["$defs"]["Problem"]["properties"]
    assert problem["category"]["enum"] == _enum(json_schema("IssueRaised"), "category")
    assert problem["severity"]["enum"] == ["general", "complex"]


def test_the_checklist_has_the_six_scores_of_spec_3_each_1_to_5() -> None:
    schema = json_schema("VisitLogged")["$defs"]["Checklist"]
    assert list(schema["properties"]) == [
        "equipment",
        "audio_video",
        "smart_control",
        "acoustics",
        "response_speed",
        "staff_attitude",
    ]
    for prop in schema["properties"].values():
        score = prop["anyOf"][0]
        assert (score["type"], score["minimum"], score["maximum"]) == ("integer", 1, 5)
    assert "required" not in schema


def test_satisfaction_is_1_to_5_and_attempt_1_to_3() -> None:
    satisfaction = VisitLogged.model_json_schema()["properties"]["satisfaction"]["anyOf"][0]
    assert (satisfaction["minimum"], satisfaction["maximum"]) == (1, 5)
    attempt = VisitDue.model_json_schema()["properties"]["attempt"]
    assert (attempt["minimum"], attempt["maximum"]) == (1, 3)


SPEC_TIMES = {
    "CustomerDelivered": ["delivered_at"],
    "IntentSigned": ["signed_at", "expected_start"],
    "ProjectStarted": ["started_at"],
    "VisitDue": ["due_at", "deadline"],
    "VisitLogged": ["logged_at"],
    "VisitSpotChecked": ["checked_at"],
    "VisitAssigned": ["assigned_at"],
    "IssueRaised": ["raised_at", "handover_by", "respond_by", "resolve_by"],
    "IssueAssigned": ["assigned_at"],
    "IssueResolved": ["resolved_at", "resolve_by"],
    "IssueReopened": ["reopened_at", "resolve_by"],
    "IssueClosed": ["closed_at"],
    "IssueResponded": ["responded_at"],
    "IssueSlaWarning": ["deadline", "warned_at"],
    "IssueEscalated": ["escalated_at", "deadline"],
    "ClockAdvanced": ["now"],
    "CustomerTierChanged": ["changed_at"],
    "PolicyActivated": ["effective_at"],
    "CustomerErased": ["erased_at"],
}


@pytest.mark.parametrize(("type_name", "fields"), SPEC_TIMES.items())
def test_every_time_is_an_aware_date_time(type_name: str, fields: list[str]) -> None:
    schema = json_schema(type_name)
    for name in fields:
        prop = schema["properties"][name]
        first = prop.get("anyOf", [prop])[0]
        assert (first["type"], first["format"]) == ("string", "date-time")
        annotation = model_for(type_name).model_fields[name].annotation
        assert "AwareDatetime" in repr(annotation), f"{type_name}.{name}: {annotation!r}"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_model_is_frozen_strict_and_ignores_unknown_fields(type_name: str) -> None:
    config = model_for(type_name).model_config
    assert (config.get("frozen"), config.get("strict"), config.get("extra")) == (
        True,
        True,
        "ignore",
    )
