"""Policy files (SPEC §11): the presets load, and every bad value is reported at its key's path."""

from __future__ import annotations

import copy
import json
import tomllib
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from followup.core.policy import (
    PRESETS,
    Policy,
    PolicyError,
    canonical_bytes,
    canonical_document,
    load_preset,
    parse_policy,
    policy_digest,
    policy_from_document,
    preset_path,
)


def home_cinema_document() -> dict[str, Any]:
    with preset_path("home-cinema").open("rb") as f:
        return tomllib.load(f)


def problems(document: dict[str, Any]) -> dict[str, str]:
    """path -> message of every problem the document has."""
    with pytest.raises(PolicyError) as caught:
        policy_from_document(document, "bad.toml")
    return {p.path: p.message for p in caught.value.problems}


def changed(path: str, value: Any) -> dict[str, Any]:
    """The home-cinema document with one key (dotted, [i] for list items) set to `value`."""
    doc = copy.deepcopy(home_cinema_document())
    node: Any = doc
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_loads_and_names_its_seed(name: str) -> None:
    policy = load_preset(name)
    assert policy.id == name
    assert policy.seed is not None and policy.seed.startswith(PRESETS[name])
    assert policy.kinds.planned(), "a preset plans at least one kind of visit"


def test_the_presets_differ_from_each_other() -> None:
    digests = {policy_digest(load_preset(name)) for name in PRESETS}
    assert len(digests) == len(PRESETS)


def test_an_unknown_key_is_reported_at_its_path() -> None:
    doc = changed("kinds.routine[0].cadence", 3)
    assert problems(doc) == {"kinds.routine[0].cadence": "unknown key"}


def test_an_unknown_visit_kind_is_an_unknown_key() -> None:
    doc = changed("kinds.monthly", [{"deadline": {"calendar_days": 7}}])
    assert problems(doc) == {"kinds.monthly": "unknown key"}


def test_a_negative_cadence_is_reported_with_its_value() -> None:
    found = problems(changed("kinds.deep[0].every_months", -12))
    assert found == {
        "kinds.deep[0].every_months": "Input should be greater than or equal to 1 (got -12)"
    }


def test_a_quoted_number_is_not_a_number() -> None:
    found = problems(changed("kinds.intent_follow_up[0].every_days", "10"))
    assert list(found) == ["kinds.intent_follow_up[0].every_days"]


def test_a_tier_outside_the_contract_is_reported_at_its_list_item() -> None:
    found = problems(changed("kinds.key_deep[0].tiers", ["gold", "platinum"]))
    assert list(found) == ["kinds.key_deep[0].tiers[1]"]
    assert "'gold', 'silver' or 'bronze'" in found["kinds.key_deep[0].tiers[1]"]


@pytest.mark.parametrize("threshold", [0, 6])
def test_a_dissatisfaction_threshold_outside_1_to_5_is_rejected(threshold: int) -> None:
    found = problems(changed("visits.dissatisfied_at_or_below", threshold))
    assert list(found) == ["visits.dissatisfied_at_or_below"]
    assert f"(got {threshold})" in found["visits.dissatisfied_at_or_below"]


def test_a_target_above_100_percent_is_rejected() -> None:
    found = problems(changed("kpis.targets.satisfaction_rate", 1.5))
    assert list(found) == ["kpis.targets.satisfaction_rate"]


def test_a_warning_share_of_1_is_rejected() -> None:
    assert list(problems(changed("sla.warning_share", 1))) == ["sla.warning_share"]


def test_a_span_counted_two_ways_at_once_is_rejected() -> None:
    found = problems(changed("sla.handover", {"working_days": 1, "hours": 8}))
    assert found == {
        "sla.handover": "give exactly one of calendar_days, working_days, hours, minutes (got 2)"
    }


def test_zero_working_days_is_rejected_but_zero_calendar_days_is_the_same_day() -> None:
    assert list(problems(changed("kinds.issue_follow_up[0].deadline", {"working_days": 0}))) == [
        "kinds.issue_follow_up[0].deadline.working_days"
    ]
    same_day = changed("kinds.first_use[0].deadline", {"calendar_days": 0})
    assert policy_from_document(same_day).kinds.first_use[0].deadline.calendar_days == 0


def test_more_than_three_attempts_is_rejected_as_the_contract_counts_to_three() -> None:
    assert list(problems(changed("retries.max_attempts", 4))) == ["retries.max_attempts"]


def test_a_department_outside_the_contract_is_reported_at_its_key() -> None:
    doc = changed("departments.sales", {"name": "销售部门", "categories": []})
    assert list(problems(doc)) == ["departments.sales"]


def test_an_unknown_time_zone_is_rejected() -> None:
    found = problems(changed("planning.default_timezone", "Asia/Atlantis"))
    assert found == {"planning.default_timezone": "'Asia/Atlantis' is not an IANA time zone"}


def test_a_missing_section_is_reported() -> None:
    doc = home_cinema_document()
    del doc["sla"]
    assert problems(doc) == {"sla": "missing (required)"}


def test_every_structural_problem_is_reported_at_once() -> None:
    doc = changed("kinds.deep[0].every_months", 0)
    doc["visits"]["dissatisfied_at_or_below"] = 9
    doc["merge"]["protected_kinds"] = ["holiday_care", "holiday_care"]
    assert set(problems(doc)) == {
        "kinds.deep[0].every_months",
        "visits.dissatisfied_at_or_below",
        "merge.protected_kinds",
    }


def test_references_across_sections_are_checked_with_their_paths() -> None:
    doc = changed("routing.default_team", "nobody")
    doc["routing"]["rules"] = [{"kinds": ["issue_follow_up"], "team": "ghosts"}]
    doc["departments"]["technical"]["categories"] = ["technical", "fault"]
    doc["kinds"]["deep"][0]["replaces"] = ["deep"]
    assert problems(doc) == {
        "routing.default_team": "'nobody' is not in teams",
        "routing.rules[0].team": "'ghosts' is not in teams",
        "departments.technical.categories[1]": "'fault' is already owned by 'after_sales'",
        "kinds.deep[0].replaces": "'deep' cannot replace itself",
    }


def test_a_category_no_department_owns_is_reported() -> None:
    doc = changed("departments.technical.categories", [])
    assert problems(doc) == {"departments": "no department owns category 'technical'"}


def test_toml_that_does_not_parse_is_one_problem_with_its_line() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy('id = "x"\nversion = = 1\n', "broken.toml")
    (problem,) = caught.value.problems
    assert problem.path == "" and "line 2" in problem.message


def test_the_canonical_document_loads_back_to_the_same_policy_and_digest() -> None:
    policy = load_preset("complaints")
    again = policy_from_document(json.loads(canonical_bytes(policy)))
    assert again == policy
    assert policy_digest(again) == policy_digest(policy)
    assert len(policy_digest(policy)) == 64


def test_the_digest_ignores_layout_but_not_values() -> None:
    text = preset_path("home-cinema").read_text(encoding="utf-8")
    reflowed = "# reordered and commented\n" + text.replace("\n\n", "\n\n\n")
    assert policy_digest(parse_policy(reflowed)) == policy_digest(load_preset())
    doc = changed("sla.warning_share", 0.75)
    assert policy_digest(policy_from_document(doc)) != policy_digest(load_preset())


def test_targets_are_exact_decimals() -> None:
    targets = load_preset().kpis.targets
    assert targets.satisfaction_rate == Decimal("0.98")
    assert Fraction(targets.satisfaction_rate) == Fraction(98, 100)
    assert canonical_document(load_preset())["kpis"]["targets"]["satisfaction_rate"] == "0.98"


def test_a_policy_is_frozen() -> None:
    policy: Policy = load_preset()
    with pytest.raises(ValueError):
        policy.version = 2  # type: ignore[misc]


def test_an_empty_filter_is_rejected_as_it_would_match_nobody() -> None:
    found = problems(changed("kinds.key_deep[0].tiers", []))
    assert found == {"kinds.key_deep[0].tiers": "list at least one, or leave the key out"}


def test_holiday_care_on_the_festival_itself_is_rejected_as_past_its_deadline() -> None:
    assert list(problems(changed("kinds.holiday_care[0].lead_days", 0))) == [
        "kinds.holiday_care[0].lead_days"
    ]
