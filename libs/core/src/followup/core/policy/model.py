"""A whole policy (SPEC §11): the sections, who owns what, and the checks across sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from pydantic import model_validator

from followup.core.policy.service_levels import Kpis, Sla
from followup.core.policy.types import Name, PolicyModel, Positive, Region, Slug, Some, Unique
from followup.core.policy.visits import Kinds, Merge, Planning, Retries, VisitRules
from followup.events.customers import Segment
from followup.events.issues import Department
from followup.events.scheduling import VisitKind
from followup.events.visits import ProblemCategory

CATEGORIES: tuple[str, ...] = get_args(ProblemCategory)


class DepartmentSpec(PolicyModel):
    """A department (one of the contract's) and the problem categories it owns."""

    name: Name
    categories: Unique[ProblemCategory] = ()


class Team(PolicyModel):
    """A team visits are routed to; its agents come from the roster (configuration)."""

    name: Name
    department: Department | None = None


class RoutingRule(PolicyModel):
    """Sends the visits it matches to a team; a filter left out matches all."""

    regions: Some[Region] | None = None
    segments: Some[Segment] | None = None
    kinds: Some[VisitKind] | None = None
    team: Slug

    def matches(self, *, region: str | None, segment: str | None, kinds: tuple[str, ...]) -> bool:
        """Whether a visit of these kinds for a customer of that region and segment matches."""
        return (
            (self.regions is None or region in self.regions)
            and (self.segments is None or segment in self.segments)
            and (self.kinds is None or any(k in self.kinds for k in kinds))
        )


class Routing(PolicyModel):
    """The first matching rule's team, else the default team (SPEC §10)."""

    default_team: Slug
    rules: tuple[RoutingRule, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a policy file: the dotted path of the key and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CrossCheckFailed(ValueError):
    """Problems found across sections, each with its own path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


class Policy(PolicyModel):
    """Everything SPEC §2-§5 and §10 call a default, for one company."""

    id: Slug
    version: Positive
    title: Name
    # The seed requirement document this policy encodes (file name in ../shared/seeds).
    seed: Name | None = None
    planning: Planning
    kinds: Kinds
    merge: Merge
    retries: Retries
    visits: VisitRules
    sla: Sla
    kpis: Kpis
    departments: dict[Department, DepartmentSpec]
    teams: dict[Slug, Team]
    routing: Routing

    @model_validator(mode="after")
    def _cross_check(self) -> Policy:
        problems = cross_check(self)
        if problems:
            raise CrossCheckFailed(problems)
        return self

    def department_for(self, category: str) -> str:
        """The department that owns issues of a category."""
        for department, spec in self.departments.items():
            if category in spec.categories:
                return department
        raise KeyError(category)  # cross_check makes every category owned

    def team_for(self, *, region: str | None, segment: str | None, kinds: tuple[str, ...]) -> str:
        """The team a visit of these kinds goes to."""
        for rule in self.routing.rules:
            if rule.matches(region=region, segment=segment, kinds=kinds):
                return rule.team
        return self.routing.default_team


def cross_check(policy: Policy) -> list[Problem]:
    """What the sections say about each other: owners, teams, replaced kinds."""
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    for department, spec in policy.departments.items():
        for i, category in enumerate(spec.categories):
            if category in owner:
                problems.append(
                    Problem(
                        f"departments.{department}.categories[{i}]",
                        f"{category!r} is already owned by {owner[category]!r}",
                    )
                )
            owner.setdefault(category, department)
    for unowned in CATEGORIES:
        if unowned not in owner:
            problems.append(Problem("departments", f"no department owns category {unowned!r}"))
    for team_id, team in policy.teams.items():
        if team.department is not None and team.department not in policy.departments:
            problems.append(
                Problem(f"teams.{team_id}.department", f"{team.department!r} is not in departments")
            )
    if policy.routing.default_team not in policy.teams:
        problems.append(
            Problem("routing.default_team", f"{policy.routing.default_team!r} is not in teams")
        )
    for i, rule in enumerate(policy.routing.rules):
        if rule.team not in policy.teams:
            problems.append(Problem(f"routing.rules[{i}].team", f"{rule.team!r} is not in teams"))
    for kind in ("deep", "key_deep", "quarterly"):
        for i, every in enumerate(getattr(policy.kinds, kind)):
            if kind in every.replaces:
                problems.append(
                    Problem(f"kinds.{kind}[{i}].replaces", f"{kind!r} cannot replace itself")
                )
    return problems
