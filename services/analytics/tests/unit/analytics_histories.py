"""Realistic random histories (seeded): customers with tier changes, visits with retries, moved
deadlines, spot checks, and issues with reassignments, pauses, breaches, reopens, follow-up
visits and closes, from February to April 2026. Each event comes with its id, as on the topics."""

from __future__ import annotations

import random
from datetime import timedelta

from analytics_builders import (
    assigned,
    at,
    breached,
    checked,
    closed,
    delivered,
    due,
    logged,
    moved,
    paused,
    raised,
    reopened,
    resolved,
    resumed,
)

from followup.events import EventData, IntentSigned, IssueDeadlinesRecomputed, ProjectStarted

CATEGORIES = ["fault", "maintenance", "technical", "complaint", "service", "other"]
DEPARTMENT = {
    "fault": "after_sales",
    "maintenance": "after_sales",
    "technical": "technical",
    "complaint": "customer_service",
    "service": "customer_service",
    "other": "customer_service",
}
AGENTS = ["A-1", "A-2", "A-3", "A-4"]


def random_history(
    seed: int, customers: int = 20, visits: int = 120, issues: int = 60
) -> list[tuple[str, EventData]]:
    """(event id, data) pairs of a history; ids are unique, the order is the producers'."""
    rng = random.Random(seed)
    out: list[EventData] = []
    cids = [f"C-{n:03d}" for n in range(customers)]
    zone_of: dict[str, str | None] = {}
    for cid in cids:
        zone = rng.choice([None, None, "Asia/Shanghai", "Asia/Urumqi"])
        zone_of[cid] = zone
        first = delivered(
            cid,
            at(rng.randint(1, 12), rng.randint(1, 28), year=2025),
            tier=rng.choice(["gold", "silver", "bronze"]),
            region=rng.choice(["east", "west", None]),
        )
        out.append(first.model_copy(update={"timezone": zone}))
        if rng.random() < 0.3:  # a repeat purchase in March moves the customer's tier
            again = delivered(
                cid,
                at(3, rng.randint(1, 28), rng.randint(8, 20)),
                tier=rng.choice(["gold", "silver"]),
                region=rng.choice(["east", "west"]),
                order_id="O-2",
            )
            out.append(again.model_copy(update={"timezone": zone}))
        if rng.random() < 0.1:
            out.append(
                IntentSigned.model_validate(
                    {
                        "customer_id": cid,
                        "signed_at": at(2, rng.randint(1, 28)),
                        "tier": "gold",
                        "segment": "enterprise",
                        "region": "north",
                        "contact": {"name": "x", "phone": "1"},
                    }
                )
            )
            out.append(
                ProjectStarted.model_validate(
                    {"customer_id": cid, "started_at": at(3, rng.randint(1, 28))}
                )
            )
    for n in range(visits):
        out += _visit(rng, f"V-{n:04d}", rng.choice(cids))
    for n in range(issues):
        out += _issue(rng, f"I-{n:04d}", rng.choice(cids), zone_of)
    return [(f"ev-{seed}-{i:05d}", e) for i, e in enumerate(out)]


def _visit(rng: random.Random, vid: str, cid: str) -> list[EventData]:
    agent = rng.choice(AGENTS)
    due_at = at(2, 15) + timedelta(hours=rng.randint(0, 24 * 60))
    deadline = due_at + timedelta(days=7)
    events: list[EventData] = [due(vid, due_at, deadline, customer_id=cid, agent_id=agent)]
    t = due_at + timedelta(hours=rng.randint(1, 48))
    if rng.random() < 0.15:
        events.append(moved(vid, deadline + timedelta(days=3), t, customer_id=cid))
    attempt = 1
    while rng.random() < 0.3 and attempt < 3:  # unreachable, then a retry the next day
        events.append(logged(vid, t, customer_id=cid, agent_id=agent, outcome="unreachable"))
        attempt += 1
        retry_at = t + timedelta(days=1)
        events.append(
            due(
                vid,
                retry_at,
                retry_at + timedelta(days=1),
                customer_id=cid,
                agent_id=agent,
                kinds=("retry",),
                attempt=attempt,
            )
        )
        t = retry_at + timedelta(hours=rng.randint(0, 30))
    roll = rng.random()
    if roll < 0.75:
        score = rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if rng.random() < 0.9 else None
        events.append(logged(vid, t, customer_id=cid, agent_id=agent, satisfaction=score))
        if rng.random() < 0.2:
            result = rng.choice(["verified", "verified", "not_verified"])
            events.append(
                checked(vid, t + timedelta(days=2), result, customer_id=cid, agent_id=agent)
            )
    elif roll < 0.85:
        events.append(logged(vid, t, customer_id=cid, agent_id=agent, outcome="declined"))
    return events


def _issue(
    rng: random.Random, iid: str, cid: str, zone_of: dict[str, str | None]
) -> list[EventData]:
    category = rng.choice(CATEGORIES)
    department = DEPARTMENT[category]
    raised_at = at(2, 20) + timedelta(hours=rng.randint(0, 24 * 50))
    source = "complaint" if rng.random() < 0.2 else "visit"
    first = raised(iid, raised_at, customer_id=cid, category=category, source=source)
    events: list[EventData] = [first.model_copy(update={"timezone": zone_of[cid]})]
    t = raised_at
    if rng.random() < 0.15:
        events.append(
            IssueDeadlinesRecomputed.model_validate(
                {
                    "issue_id": iid,
                    "customer_id": cid,
                    "recomputed_at": t + timedelta(hours=1),
                    "handover_by": first.handover_by + timedelta(days=2),
                    "round": 1,
                }
            )
        )
    if rng.random() < 0.85:
        t += timedelta(hours=rng.randint(1, 40))
        owner = rng.choice(AGENTS)
        events.append(assigned(iid, t, owner, department, customer_id=cid))
        if rng.random() < 0.2:
            t += timedelta(hours=rng.randint(1, 20))
            owner = rng.choice(AGENTS)
            events.append(assigned(iid, t, owner, department, customer_id=cid))
    else:
        owner = None
        events.append(breached(iid, "handover", first.handover_by, department, None, cid))
    if owner is None:
        return events
    if rng.random() < 0.3:
        events.append(paused(iid, 1, t + timedelta(hours=2), customer_id=cid))
        if rng.random() < 0.8:
            events.append(resumed(iid, 1, t + timedelta(hours=rng.randint(3, 30)), cid))
    if rng.random() < 0.8:
        t += timedelta(hours=rng.randint(2, 120))
        if t > first.resolve_by:
            events.append(breached(iid, "resolution", first.resolve_by, department, owner, cid))
        events.append(resolved(iid, t, first.resolve_by, rng.randint(0, 3600), customer_id=cid))
        follow = f"V-F-{iid}"
        if rng.random() < 0.7:
            fu_due = t + timedelta(hours=2)
            events.append(
                due(
                    follow,
                    fu_due,
                    fu_due + timedelta(days=1),
                    customer_id=cid,
                    agent_id=owner,
                    kinds=("issue_follow_up",),
                    issue_id=iid,
                )
            )
            if rng.random() < 0.8:
                done = fu_due + timedelta(hours=rng.randint(1, 30))
                events.append(logged(follow, done, customer_id=cid, agent_id=owner))
                if rng.random() < 0.75:
                    events.append(closed(iid, done, visit_id=follow, customer_id=cid))
                else:
                    again_by = done + timedelta(days=3)
                    events.append(reopened(iid, done, again_by, customer_id=cid))
                    if rng.random() < 0.5:
                        fixed = done + timedelta(hours=rng.randint(5, 100))
                        events.append(resolved(iid, fixed, again_by, customer_id=cid))
    return events
