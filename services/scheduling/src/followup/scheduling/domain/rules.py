"""The planner's `Policy` for one customer, built from a policy document (SPEC §11): for each
kind the first rule that applies to the customer's tier and segment, else the kind is off.

What the planner cannot count yet (a product filter, an age condition on a kind other than
quarterly and holiday care, a unit a kind's deadline is not counted in) is refused with the
dotted path of the rule, so a policy never plans something other than what it says.
"""

from __future__ import annotations

from datetime import timedelta

from followup.core.policy import Policy as Document
from followup.core.policy import Span
from followup.core.policy.visits import (
    Applicability,
    AtMonths,
    BeforeFestivals,
    EveryDays,
    EveryMonths,
)
from followup.scheduling.domain.policy import (
    DEEP,
    FIRST_USE,
    HOLIDAY_CARE,
    ISSUE_FOLLOW_UP,
    KEY_DEEP,
    QUARTERLY,
    ROUTINE,
    SPECIAL,
    Policy,
)

# Kinds whose rules may say "older than N months" (judged at the due date).
_AGED = (QUARTERLY, HOLIDAY_CARE)


class UnsupportedRule(ValueError):
    """A policy rule the planner cannot follow (the message starts with its dotted path)."""


def scheduling_policy(doc: Document, *, tier: str, segment: str | None) -> Policy:
    """The planner's policy for a customer of this tier and segment under `doc`."""
    kinds: set[str] = set()
    customer_kinds: set[str] = set()
    found: dict[str, Applicability] = {}
    for kind in doc.kinds.planned():
        rules = doc.kinds.rules(kind)
        for i, rule in enumerate(rules):
            _check(f"kinds.{kind}[{i}]", kind, rule)
        applies = doc.kinds.rule_for(kind, tier=tier, segment=segment, product=None)
        if applies is None:
            continue
        kinds.add(kind)
        found[kind] = applies
        if getattr(applies, "per", "order") == "customer":
            customer_kinds.add(kind)
    settings: dict[str, object] = {}
    for kind, rule in found.items():
        settings.update(_settings(kind, rule, tier))
    return Policy(
        kinds=frozenset(kinds),
        customer_kinds=frozenset(customer_kinds),
        merge_within=timedelta(days=doc.merge.window_days),
        merge_protected_kinds=tuple(doc.merge.protected_kinds),
        max_attempts=doc.retries.max_attempts,
        retry_at=doc.retries.at,
        retry_working_days=_days(doc.retries.deadline, "working_days", "retries.deadline"),
        horizon_months=doc.planning.horizon_months,
        **settings,  # type: ignore[arg-type]
    )


def _settings(kind: str, rule: Applicability, tier: str) -> dict[str, object]:
    """The flat fields one kind's rule sets."""
    path = f"kinds.{kind}"
    deadline: Span = getattr(rule, "deadline", Span(calendar_days=0))
    if kind == FIRST_USE:
        if deadline.unit == "working_days":
            return {"first_use_working_days": deadline.amount}
        return {"first_use_deadline_days": _days(deadline, "calendar_days", path)}
    if kind == SPECIAL:
        return {"special_deadline_days": _days(deadline, "calendar_days", path)}
    if isinstance(rule, AtMonths):
        return {
            "routine_months": tuple(rule.months),
            "routine_deadline_days": _days(deadline, "calendar_days", path),
        }
    if isinstance(rule, EveryMonths):
        days = _days(deadline, "calendar_days", path)
        if kind == DEEP:
            return {
                "deep_every_months": rule.every_months,
                "deep_from_month": rule.from_month,
                "deep_replaces_routine": ROUTINE in rule.replaces,
                "deep_deadline_days": days,
            }
        if kind == KEY_DEEP:
            return {
                "key_deep_every_months": rule.every_months,
                "key_deep_from_month": rule.from_month,
                "key_deep_tiers": (tier,) if rule.tiers is None else tuple(rule.tiers),
                "key_deep_deadline_days": days,
            }
        return {
            "quarterly_every_months": rule.every_months,
            "quarterly_from_month": rule.from_month,
            "quarterly_deadline_days": days,
            "mature_after_months": rule.older_than_months,
        }
    if isinstance(rule, BeforeFestivals):
        return {
            "holiday_care_days_before": rule.lead_days,
            "holiday_care_at": rule.at,
            "holiday_care_festivals": tuple(
                (f.name, f.lunar_month, f.lunar_day) for f in rule.festivals
            ),
            "holiday_care_older_than_months": rule.older_than_months,
        }
    if isinstance(rule, EveryDays):
        return {
            "intent_every_days": rule.every_days,
            "intent_deadline_working_days": _days(deadline, "working_days", path),
        }
    if kind == ISSUE_FOLLOW_UP:
        return {"issue_follow_up_working_days": _days(deadline, "working_days", path)}
    raise UnsupportedRule(f"{path}: the planner does not plan {kind!r}")


def _check(path: str, kind: str, rule: Applicability) -> None:
    if rule.products is not None:
        raise UnsupportedRule(f"{path}.products: the planner does not know orders' products")
    if rule.older_than_months and kind not in _AGED:
        raise UnsupportedRule(f"{path}.older_than_months: only for quarterly and holiday_care")
    replaces = getattr(rule, "replaces", ())
    if any(k != ROUTINE for k in replaces) or (replaces and kind != DEEP):
        raise UnsupportedRule(f"{path}.replaces: only deep may replace, and only routine")


def _days(span: Span, unit: str, path: str) -> int:
    if span.unit != unit:
        raise UnsupportedRule(f"{path}: counted in {span.unit}, the planner counts {unit}")
    return span.amount
