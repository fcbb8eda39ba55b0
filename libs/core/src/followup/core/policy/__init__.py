"""Policy as data (SPEC §11): the models of a policy file, loading and checking it, presets.

Pure: nothing here reads the clock or the environment; loading reads the file it is given.
"""

from followup.core.policy.history import Activation, PolicyHistory, activation_of
from followup.core.policy.loading import (
    PolicyError,
    canonical_bytes,
    canonical_document,
    dotted_path,
    load_policy,
    parse_policy,
    policy_digest,
    policy_from_document,
)
from followup.core.policy.model import Policy, Problem, Routing, RoutingRule, Team
from followup.core.policy.presets import (
    DEFAULT_PRESET,
    PRESETS,
    load_preset,
    preset_path,
    presets_dir,
)
from followup.core.policy.service_levels import IssueClocks, Kpis, Sla, SlaRule, Targets
from followup.core.policy.types import Span
from followup.core.policy.visits import (
    AtMonths,
    BeforeFestivals,
    EveryDays,
    EveryMonths,
    Festival,
    Kinds,
    OnOccasion,
)

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Activation",
    "AtMonths",
    "BeforeFestivals",
    "EveryDays",
    "EveryMonths",
    "Festival",
    "IssueClocks",
    "Kinds",
    "Kpis",
    "OnOccasion",
    "Policy",
    "PolicyError",
    "PolicyHistory",
    "Problem",
    "Routing",
    "RoutingRule",
    "Sla",
    "SlaRule",
    "Span",
    "Targets",
    "Team",
    "activation_of",
    "canonical_bytes",
    "canonical_document",
    "dotted_path",
    "load_policy",
    "load_preset",
    "parse_policy",
    "policy_digest",
    "policy_from_document",
    "preset_path",
    "presets_dir",
]
