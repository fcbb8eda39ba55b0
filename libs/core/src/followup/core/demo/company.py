"""A seeded, realistic company for the demo: a roster, customers and their deliveries.

Pure: the same (customers, months, seed) always yields the same company, so a demo run is
reproducible and its tokens file can be written before the services start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Where customers live: (region, time zone, share). Regions select the business calendar.
REGIONS: tuple[tuple[str, str, float], ...] = (
    ("CN-31", "Asia/Shanghai", 0.28),
    ("CN-11", "Asia/Shanghai", 0.22),
    ("CN-44", "Asia/Shanghai", 0.22),
    ("CN-51", "Asia/Shanghai", 0.14),
    ("HK", "Asia/Hong_Kong", 0.08),
    ("CN-65", "Asia/Urumqi", 0.06),
)
TIERS: tuple[tuple[str, float], ...] = (("gold", 0.12), ("silver", 0.38), ("bronze", 0.5))
SEGMENTS: tuple[tuple[str, float], ...] = (
    ("individual", 0.72),
    ("enterprise", 0.2),
    ("institution", 0.08),
)
PRODUCTS = ("home cinema 5.1", "home cinema 7.1.4", "media room", "smart living room")
# The issue-owning departments of SPEC §4; visits are made by customer service.
DEPARTMENTS = ("customer_service", "after_sales", "technical")
# Months of delivery history before the played year starts (deliveries span 18 months).
HISTORY_MONTHS = 6
CUSTOMERS_PER_AGENT = 120
REPEAT_PURCHASE_SHARE = 0.08


@dataclass(frozen=True)
class Agent:
    agent_id: str
    department: str
    team: str
    role: str = "agent"  # or "supervisor"

    @property
    def token(self) -> str:
        return f"demo-{self.agent_id.lower()}"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    tier: str
    segment: str
    region: str
    timezone: str
    account_manager_id: str


@dataclass(frozen=True)
class Delivery:
    customer: Customer
    order_id: str
    delivered_at: datetime
    product: str


@dataclass(frozen=True)
class Company:
    start: datetime  # the played year's first instant (UTC+8 midnight of its first day)
    agents: tuple[Agent, ...]
    customers: tuple[Customer, ...]
    deliveries: tuple[Delivery, ...]  # by delivered_at

    def visiting_agents(self) -> list[Agent]:
        return [a for a in self.agents if a.role == "agent" and a.department == DEPARTMENTS[0]]

    def owners(self, department: str) -> list[Agent]:
        return [a for a in self.agents if a.role == "agent" and a.department == department]

    def supervisor(self, department: str) -> Agent:
        return next(a for a in self.agents if a.role == "supervisor" and a.department == department)

    def tokens(self) -> dict[str, dict[str, str]]:
        """The FOLLOWUP_TOKENS_FILE document giving every member of the roster a token."""
        return {
            a.token: {
                "role": a.role,
                "agent_id": a.agent_id,
                "name": f"{a.role} {a.agent_id}",
                "department": a.department,
            }
            for a in self.agents
        }


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def roster(customers: int) -> tuple[Agent, ...]:
    """Agents by team (one visiting team per region), issue owners and one supervisor per
    department, sized to the customer base."""
    agents: list[Agent] = []
    visiting = max(len(REGIONS), customers // CUSTOMERS_PER_AGENT)
    for i in range(visiting):
        region = REGIONS[i % len(REGIONS)][0]
        agents.append(Agent(f"CS-{i + 1:03d}", "customer_service", f"visits-{region}"))
    owners = max(2, customers // 400)
    for dept, prefix in (("after_sales", "AS"), ("technical", "TE"), ("customer_service", "CO")):
        agents += [Agent(f"{prefix}-{i + 1:03d}", dept, f"{dept}-owners") for i in range(owners)]
    for dept in DEPARTMENTS:
        agents.append(Agent(f"SV-{dept.upper()[:2]}", dept, f"{dept}-leads", "supervisor"))
    return tuple(agents)


# A fixed first day, so a run is the same whenever it is made (a year with official calendar data).
PLAY_START = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


def make_company(customers: int, months: int, seed: int, start: datetime | None = None) -> Company:
    """The company: `customers` customers delivered over HISTORY_MONTHS + `months` months."""
    start = start or PLAY_START
    rng = random.Random(f"company:{seed}")
    agents = roster(customers)
    by_team: dict[str, list[Agent]] = {}
    for a in agents:
        if a.role == "agent" and a.department == "customer_service" and a.team.startswith("v"):
            by_team.setdefault(a.team, []).append(a)
    span_days = (HISTORY_MONTHS + months) * 30
    first_day = start.date() - timedelta(days=HISTORY_MONTHS * 30)
    people: list[Customer] = []
    deliveries: list[Delivery] = []
    for n in range(customers):
        region = rng.choices(REGIONS, [r[2] for r in REGIONS])[0]
        team = by_team[f"visits-{region[0]}"]
        customer = Customer(
            customer_id=f"C-{n + 1:06d}",
            tier=_pick(rng, TIERS),
            segment=_pick(rng, SEGMENTS),
            region=region[0],
            timezone=region[1],
            account_manager_id=rng.choice(team).agent_id,
        )
        people.append(customer)
        day = first_day + timedelta(days=rng.randrange(span_days))
        deliveries.append(_delivery(rng, customer, day, 1))
        if rng.random() < REPEAT_PURCHASE_SHARE:
            later = day + timedelta(days=rng.randrange(60, 300))
            if later < first_day + timedelta(days=span_days):
                deliveries.append(_delivery(rng, customer, later, 2))
    deliveries.sort(key=lambda d: (d.delivered_at, d.order_id))
    return Company(start, agents, tuple(people), tuple(deliveries))


def _delivery(rng: random.Random, customer: Customer, day: date, n: int) -> Delivery:
    zone = ZoneInfo(customer.timezone)
    at = datetime.combine(day, time(rng.randrange(9, 18), rng.choice((0, 15, 30, 45))), zone)
    return Delivery(customer, f"O-{customer.customer_id[2:]}-{n}", at, rng.choice(PRODUCTS))
