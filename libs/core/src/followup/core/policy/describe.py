"""A policy in a few lines of text, for `followup policy check` and for people reviewing one."""

from __future__ import annotations

from followup.core.policy.model import Policy
from followup.core.policy.service_levels import CLOCKS, SlaRule
from followup.core.policy.visits import (
    Applicability,
    AtMonths,
    BeforeFestivals,
    EveryDays,
    EveryMonths,
    OnOccasion,
)


def _filters(rule: Applicability) -> str:
    parts = []
    for name in ("tiers", "segments", "products"):
        values = getattr(rule, name)
        if values is not None:
            parts.append(f"{name} {'/'.join(values)}")
    if rule.older_than_months:
        parts.append(f"older than {rule.older_than_months} months")
    return f" [{', '.join(parts)}]" if parts else ""


_OCCASIONS = {
    "first_use": "at the delivery",
    "special": "at a repeat purchase",
    "issue_follow_up": "at the issue's resolution",
    "intent_follow_up": "at the signing",
}


def describe_rule(kind: str, rule: Applicability) -> str:
    """'months 1, 3, 6, 12 per order, deadline 7 calendar days [tiers gold]'."""
    if isinstance(rule, AtMonths):
        text = f"months {', '.join(map(str, rule.months))} per {rule.per}"
    elif isinstance(rule, EveryMonths):
        text = f"every {rule.every_months} months from month {rule.from_month} per {rule.per}"
        if rule.replaces:
            text += f", replaces {'/'.join(rule.replaces)}"
    elif isinstance(rule, EveryDays):
        text = f"{_OCCASIONS.get(kind, 'at its occasion')}, then every {rule.every_days} days"
    elif isinstance(rule, BeforeFestivals):
        names = "/".join(f.name for f in rule.festivals)
        text = f"{rule.lead_days} days before {names} at {rule.at:%H:%M}"
    else:
        text = _OCCASIONS.get(kind, "at its occasion")
    if isinstance(rule, OnOccasion | AtMonths | EveryMonths | EveryDays):
        text += f", deadline {rule.deadline.describe()}"
    elif isinstance(rule, BeforeFestivals):
        text += ", deadline the last working day before the holiday"
    return text + _filters(rule)


def _sla_rule(rule: SlaRule) -> str:
    where = [
        "/".join(values)
        for values in (rule.categories, rule.severities, rule.tiers)
        if values is not None
    ]
    clocks = [
        f"{clock.replace('_', ' ')} {span.describe()}"
        for clock in CLOCKS
        if (span := getattr(rule, clock)) is not None
    ]
    return f"{' '.join(where) or 'every issue'}: {', '.join(clocks)}"


def describe(policy: Policy) -> list[str]:
    """What a policy sets, one line per topic."""
    lines = [f"{policy.id} v{policy.version}: {policy.title}"]
    if policy.seed:
        lines.append(f"  seed: {policy.seed}")
    for kind in policy.kinds.planned():
        for rule in policy.kinds.rules(kind):
            lines.append(f"  kind {kind}: {describe_rule(kind, rule)}")
    r, m = policy.retries, policy.merge
    lines.append(
        f"  retry: up to {r.max_attempts} attempts at {r.at:%H:%M} on the next working day, "
        f"deadline {r.deadline.describe()}"
    )
    lines.append(
        f"  merge: within {m.window_days} days; own deadline kept by "
        f"{', '.join(m.protected_kinds) or 'none'}"
    )
    sla = policy.sla
    lines.append(
        f"  sla: handover {sla.handover.describe()}, first response "
        f"{sla.first_response.describe()}, resolution general "
        f"{sla.resolution.general.describe()} / complex {sla.resolution.complex.describe()}; "
        f"warning at {sla.warning_share:%} used"
        + (f"; at most {sla.max_pauses} pauses" if sla.max_pauses is not None else "")
    )
    for sla_rule in sla.rules:
        lines.append(f"  sla rule: {_sla_rule(sla_rule)}")
    targets = policy.kpis.targets.set()
    lines.append("  targets: " + (", ".join(f"{k} {v}" for k, v in targets.items()) or "none"))
    lines.append(
        f"  visits: dissatisfied at or below {policy.visits.dissatisfied_at_or_below}, "
        f"{policy.visits.spot_checks_per_agent_month} spot checks per agent and month"
    )
    lines.append(
        "  departments: "
        + "; ".join(
            f"{d} ({'/'.join(spec.categories) or 'no category'})"
            for d, spec in policy.departments.items()
        )
    )
    lines.append(
        f"  routing: {len(policy.routing.rules)} rule(s), else team "
        f"{policy.routing.default_team}; teams {', '.join(policy.teams)}"
    )
    return lines
