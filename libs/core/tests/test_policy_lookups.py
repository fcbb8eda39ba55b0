"""What a policy answers for one customer, issue or visit: first matching rule, later SLA rules
overriding earlier ones clock by clock, routing by kind, segment and region."""

from __future__ import annotations

from followup.core.policy import EveryMonths, Span, load_preset


def test_cable_tv_tiers_each_get_their_own_deep_cadence() -> None:
    kinds = load_preset("cable-tv").kinds
    gold = kinds.rule_for("key_deep", tier="gold", segment="individual", product=None)
    silver = kinds.rule_for("deep", tier="silver", segment="individual", product=None)
    bronze = kinds.rule_for("deep", tier="bronze", segment="individual", product=None)
    assert isinstance(gold, EveryMonths) and gold.every_months == 3
    assert isinstance(silver, EveryMonths) and silver.every_months == 6
    assert isinstance(bronze, EveryMonths) and bronze.every_months == 12
    # Gold customers have their key visits instead of a deep one, and only gold has those.
    assert kinds.rule_for("deep", tier="gold", segment="individual", product=None) is None
    assert kinds.rule_for("key_deep", tier="silver", segment="enterprise", product=None) is None


def test_a_kind_without_rules_or_the_retry_kind_has_no_rule() -> None:
    kinds = load_preset("generic").kinds
    assert kinds.rule_for("holiday_care", tier="gold", segment=None, product=None) is None
    assert kinds.rules("retry") == ()


def test_a_product_filter_matches_only_the_listed_products() -> None:
    policy = load_preset("appliances")
    (deep,) = policy.kinds.deep
    only_fridges = deep.model_copy(update={"products": ("fridge",)})
    kinds = policy.kinds.model_copy(update={"deep": (only_fridges,)})
    assert kinds.rule_for("deep", tier="bronze", segment=None, product="fridge") is only_fridges
    assert kinds.rule_for("deep", tier="bronze", segment=None, product="oven") is None


def test_a_complaint_gets_the_10_minute_first_response_and_keeps_the_other_clocks() -> None:
    sla = load_preset("complaints").sla
    complaint = sla.clocks_for(category="complaint", severity="complex", tier="bronze")
    assert complaint.first_response == Span(minutes=10)
    assert complaint.handover == Span(working_days=1)
    assert complaint.resolution == Span(working_days=7)
    fault = sla.clocks_for(category="fault", severity="general", tier="gold")
    assert fault.first_response == Span(hours=24)
    assert fault.resolution == Span(working_days=3)


def test_a_later_sla_rule_overrides_an_earlier_one_for_the_clocks_it_sets() -> None:
    sla = load_preset("cable-tv").sla
    (gold,) = sla.rules
    faster = gold.model_copy(update={"tiers": None, "categories": ("complaint",)})
    sla = sla.model_copy(
        update={"rules": (gold, faster.model_copy(update={"first_response": Span(minutes=30)}))}
    )
    assert sla.clocks_for(
        category="complaint", severity="general", tier="gold"
    ).first_response == Span(minutes=30)
    assert sla.clocks_for(category="fault", severity="general", tier="gold").first_response == Span(
        hours=4
    )
    assert sla.clocks_for(
        category="fault", severity="general", tier="silver"
    ).first_response == Span(hours=24)


def test_cable_tv_routes_by_kind_first_then_segment_then_the_default_team() -> None:
    policy = load_preset("cable-tv")
    assert (
        policy.team_for(region="CN", segment="enterprise", kinds=("issue_follow_up",))
        == "customer-service"
    )
    assert (
        policy.team_for(region="CN", segment="institution", kinds=("routine", "holiday_care"))
        == "enterprise"
    )
    assert policy.team_for(region=None, segment="individual", kinds=("key_deep",)) == "households"


def test_a_merged_visit_carrying_a_fix_confirmation_goes_to_customer_service() -> None:
    policy = load_preset("generic")
    assert policy.team_for(region="CN", segment=None, kinds=("routine",)) == "sales"
    assert (
        policy.team_for(region="CN", segment=None, kinds=("routine", "issue_follow_up"))
        == "customer-service"
    )


def test_each_category_has_one_department_in_every_preset() -> None:
    assert load_preset("appliances").department_for("fault") == "after_sales"
    assert load_preset("generic").department_for("fault") == "customer_service"
    assert load_preset("cable-tv").department_for("maintenance") == "technical"
