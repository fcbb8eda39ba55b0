"""Who visits are routed to: the policy in force and the roster, read and checked at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from followup.core.auth import TokenTable
from followup.core.policy import PRESETS, Policy, load_policy, load_preset
from followup.core.roster import (
    Roster,
    RosterError,
    check_against_policy,
    check_tokens,
    roster_from_env,
)


@dataclass(frozen=True)
class Staffing:
    """The policy (teams, routing rules, thresholds) and the roster (who is in each team)."""

    policy: Policy
    roster: Roster


def policy_named(name: str) -> Policy:
    """A preset by name, else the policy file at that path."""
    return load_preset(name) if name in PRESETS else load_policy(Path(name))


def staffing_from_env(policy_name: str, env: Mapping[str, str] | None = None) -> Staffing:
    """Reads the policy and FOLLOWUP_ROSTER_FILE; RosterError when they or the tokens disagree.

    Tokens are checked only against a roster that lists someone: without one, every visit
    waits in the unassigned queue and the tokens are as they were.
    """
    policy = policy_named(policy_name)
    roster = roster_from_env(env)
    problems = check_against_policy(roster, policy)
    if roster.agents or roster.supervisors:
        problems += check_tokens(roster, TokenTable.from_env(env).principals())
    if problems:
        raise RosterError("roster: " + "; ".join(problems))
    return Staffing(policy, roster)
