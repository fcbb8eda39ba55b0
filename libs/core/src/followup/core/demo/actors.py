"""The demo's people at work through the HTTP APIs: agents log visits, owners work issues,
supervisors reassign and spot check. Each day's calls go out concurrently."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from followup.core.demo import behaviour
from followup.core.demo.company import Agent, Company

log = logging.getLogger("followup.demo")
ADMIN = "admin"
RETRIES = 4


@dataclass
class IssueState:
    seen_day: int
    assigned_day: int | None = None
    responded: bool = False
    paused_until: int | None = None
    pause_done: bool = False
    reopened: int = 0
    reopened_day: int | None = None


@dataclass
class Office:
    """The roster at work: one HTTP client per service, a token per person, and what the
    demo remembers of the visits and issues it worked on."""

    client: httpx.AsyncClient
    urls: dict[str, str]
    company: Company
    seed: int
    admin_token: str
    concurrency: int = 32
    can_reassign: bool = False
    logged: set[tuple[Any, ...]] = field(default_factory=set)
    rescheduled: set[str] = field(default_factory=set)
    issues: dict[str, IssueState] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._agents = {a.agent_id: a for a in self.company.agents}
        self._managers = {c.customer_id: c.account_manager_id for c in self.company.customers}
        self._gate = asyncio.Semaphore(self.concurrency)

    def token_of(self, agent_id: str | None) -> str | None:
        agent = self._agents.get(agent_id or "")
        return agent.token if agent else None

    async def call(self, method: str, service: str, path: str, token: str, **kw: Any) -> Any:
        """One request; a refusal is counted and logged (to the file), never raised."""
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        for attempt in range(RETRIES):
            try:
                async with self._gate:
                    r = await self.client.request(
                        method, self.urls[service] + path, headers=headers, **kw
                    )
                break
            except httpx.TransportError as exc:
                # A kept-alive connection the server just closed; commands that must not run
                # twice carry an Idempotency-Key, the others answer 409 on a second run.
                log.info("%s %s %s: %r (attempt %d)", method, service, path, exc, attempt + 1)
                if attempt == RETRIES - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        if r.status_code >= 400:
            self.counts[f"refused {r.status_code}"] += 1
            log.info("%s %s %s -> %s %s", method, service, path, r.status_code, r.text[:300])
            return None
        if method == "POST":
            self.counts["commands"] += 1
        return r.json()

    async def pages(self, service: str, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list, read as the admin."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = await self.call("GET", service, path, self.admin_token, params=query)
            if page is None:
                return items
            items += page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def gather(self, calls: Sequence[Awaitable[Any]]) -> None:
        await asyncio.gather(*calls)

    # -- visits --------------------------------------------------------------------------

    def day_of(self, instant: str) -> int:
        local = datetime.fromisoformat(instant).astimezone(ZoneInfo("Asia/Shanghai")).date()
        return (local - self.company.start.date()).days

    async def work_visits(self, day: int, now: datetime) -> int:
        """Agents log the due and missed visits they get to today; returns how many."""
        due, missed = await asyncio.gather(
            self.pages("visits", "/v1/visits", status="due"),
            self.pages("visits", "/v1/visits", status="missed"),
        )
        visits = due + missed
        calls = []
        for v in visits:
            key = (v["visit_id"], v.get("attempt"), v.get("rescheduled_to"), v.get("due_at"))
            if key in self.logged:
                continue
            due_day = self.day_of(v["due_at"]) if v.get("due_at") else day
            delay = behaviour.log_delay_days(self.seed, v["visit_id"], v.get("attempt") or 1)
            if day < due_day + delay:
                continue
            self.logged.add(key)
            calls.append(self._log(v, now))
        await self.gather(calls)
        return len(calls)

    async def _log(self, visit: dict[str, Any], now: datetime) -> None:
        again = visit["visit_id"] in self.rescheduled
        body = behaviour.visit_log(self.seed, visit, now, again)
        agent_id = visit.get("agent_id") or self._managers.get(visit["customer_id"])
        token = self.token_of(visit.get("agent_id"))
        rng = behaviour.rng_for(self.seed, "reassign", visit["visit_id"])
        if self.can_reassign and agent_id and rng.random() < 0.03:
            agent_id = await self._reassign(visit, agent_id, rng.random())
            token = None
        if token is None:  # unassigned or just reassigned: the supervisor logs for the agent
            token = self.company.supervisor("customer_service").token
            body["agent_id"] = agent_id
        path = f"/v1/visits/{visit['visit_id']}/log"
        key = f"demo-{self.seed}-{visit['visit_id']}-{visit.get('attempt')}-{int(again)}"
        answer = await self.call(
            "POST", "visits", path, token, json=body, headers={"Idempotency-Key": key}
        )
        if answer is not None:
            self.counts[f"visits {body['outcome']}"] += 1
            if body.get("problems"):
                self.counts["problems reported"] += 1
            if body["outcome"] == "rescheduled":
                self.rescheduled.add(visit["visit_id"])

    async def _reassign(self, visit: dict[str, Any], agent_id: str, r: float) -> str:
        """A supervisor moves the visit of an agent on leave to a teammate."""
        agent = self._agents.get(agent_id)
        team = [a for a in self.company.visiting_agents() if agent and a.team == agent.team]
        others = [a for a in team if a.agent_id != agent_id] or team
        if not others:
            return agent_id
        mate = others[int(r * len(others)) % len(others)].agent_id
        supervisor = self.company.supervisor("customer_service").token
        body = {"agent_id": mate, "reason": "agent on leave"}
        path = f"/v1/visits/{visit['visit_id']}/assign"
        if await self.call("POST", "visits", path, supervisor, json=body) is not None:
            self.counts["visits reassigned"] += 1
            return mate
        return agent_id

    async def spot_check(self, month: date) -> None:
        """Supervisors re-contact the month's sample of each agent's completed visits."""
        supervisor = self.company.supervisor("customer_service").token
        label = f"{month.year:04d}-{month.month:02d}"
        samples = await asyncio.gather(
            *(
                self.call(
                    "GET",
                    "visits",
                    "/v1/spot-checks",
                    supervisor,
                    params={"agent_id": a.agent_id, "month": label},
                )
                for a in self.company.visiting_agents()
            )
        )
        calls = []
        for sample in samples:
            for v in (sample or {}).get("sample", []):
                if v.get("spot_check"):
                    continue
                result = behaviour.spot_check_result(self.seed, v["visit_id"])
                body = {"result": result}
                calls.append(
                    self.call(
                        "POST", "visits", f"/v1/spot-checks/{v['visit_id']}", supervisor, json=body
                    )
                )
        self.counts["spot checks"] += len(calls)
        await self.gather(calls)

    # -- issues --------------------------------------------------------------------------

    async def work_issues(self, day: int) -> None:
        """Owners take, answer, pause and resolve the open issues due for it today."""
        lists = await asyncio.gather(
            *(
                self.pages("issues", "/v1/issues", status=s)
                for s in ("raised", "assigned", "reopened")
            )
        )
        open_issues = [issue for page in lists for issue in page]
        await self.gather([self._work_issue(i, day) for i in open_issues])

    async def _work_issue(self, issue: dict[str, Any], day: int) -> None:
        """Today's steps on one issue, in order: take, first contact, pause or resume, resolve."""
        issue_id = issue["issue_id"]
        state = self.issues.setdefault(issue_id, IssueState(seen_day=day))
        reopened = issue["status"] == "reopened"
        if reopened and state.reopened_day is None:
            state.reopened += 1
            state.reopened_day = day
        plan = behaviour.issue_plan(self.seed, issue_id, issue.get("severity", ""), state.reopened)
        department = issue.get("department") or "customer_service"
        owner = issue.get("owner_id")
        if not owner:
            if day < state.seen_day + plan.assign_after:
                return
            owner = await self._assign(issue_id, department)
            if owner is None:
                return
        if state.assigned_day is None:
            state.assigned_day = day
        token = self.token_of(owner) or self.company.supervisor(department).token
        path = f"/v1/issues/{issue_id}"
        if not state.responded and not reopened:
            if day < state.assigned_day + plan.respond_after:
                return
            body = {"channel": "phone", "note": "called the customer about it"}
            state.responded = await self._act(path + "/respond", token, body, "issues responded")
            if not state.responded:
                return
        if plan.pause_days and not state.pause_done and not reopened:
            if state.paused_until is None:
                if day >= state.assigned_day + plan.respond_after + 1:
                    state.paused_until = day + plan.pause_days
                    body = {"reason": "waiting for the customer to be home"}
                    await self._act(path + "/pause", token, body, "issues paused")
                    return
            elif day < state.paused_until:
                return
            else:
                state.pause_done = True
                await self._act(path + "/resume", token, {}, "issues resumed")
        base = state.reopened_day if reopened else state.assigned_day
        paused = plan.pause_days if state.pause_done and not reopened else 0
        if base is None or day < base + plan.resolve_after + paused:
            return
        body = {"resolution": "fixed on site and tested with the customer"}
        if await self._act(path + "/resolve", token, body, "issues resolved"):
            state.reopened_day = None

    async def _assign(self, issue_id: str, department: str) -> str | None:
        """The department's supervisor names an owner; returns the owner, or None if refused."""
        owners: list[Agent] = self.company.owners(department)
        rng = behaviour.rng_for(self.seed, "owner", issue_id)
        owner = owners[rng.randrange(len(owners))].agent_id
        body = {"assignee_id": owner, "department": department}
        token = self.company.supervisor(department).token
        done = await self._act(f"/v1/issues/{issue_id}/assign", token, body, "issues assigned")
        return owner if done else None

    async def _act(self, path: str, token: str, body: dict[str, Any], counted: str) -> bool:
        if await self.call("POST", "issues", path, token, json=body) is None:
            return False
        self.counts[counted] += 1
        return True
