"""What planning works out once and reuses for every customer: a delivery date's months (due
days, deadlines, provisional flags) and a year's holiday-care visits, kept in a `PlanMemo`.

A memo belongs to one calendar and one policy (official data loaded later is another calendar
object, which gets a new memo), so nothing worked out on one is ever answered from another.
The handler keeps one and passes it to the planner; a call without one works on a fresh memo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.calendar import (
    BusinessCalendar,
    add_months_to_date,
    end_of_day,
    holiday_care_deadline_date,
    lunar_to_solar,
)
from followup.scheduling.domain.policy import DEEP, KEY_DEEP, QUARTERLY, ROUTINE, Policy

RECURRING = (ROUTINE, DEEP, KEY_DEEP, QUARTERLY)

_END_OF_DAY = time(23, 59, 59)
# A schedule holds a few kB (two to three years of months). Distinct delivery dates times
# zones times gold or not: a year of deliveries in one zone is ~730. The schedules are dropped
# whole past this many; that only costs working them out again.
_SCHEDULES_KEPT = 5_000

# (due, deadline, provisional, reason, due iso) of one holiday-care visit.
FestivalVisit = tuple[datetime, datetime, bool, str, str]


def calendar_deadline(
    due_day: date, days: int, tz: ZoneInfo, cal: BusinessCalendar
) -> tuple[datetime, bool]:
    """end_of_calendar_days from the due time's local date (already known to the caller)."""
    landed = due_day + timedelta(days=days)
    day = cal.working_day_on_or_after(landed)
    # Provisional if the landing day or any day it moved over is.
    return datetime.combine(day, _END_OF_DAY, tz), cal.any_provisional(landed, day)


@dataclass(frozen=True, slots=True)
class MonthVisits:
    """One month of a delivery's recurring schedule, in days: what any delivery on that local
    date asks for that month (the delivery's own wall time is added per customer)."""

    months: int
    due_day: date
    # (kind, deadline, provisional, reason up to the order id); quarterly apart, as it applies
    # only once the delivery is older than 12 months at the due time.
    kinds: tuple[tuple[str, datetime, bool, str], ...]
    quarterly: tuple[str, datetime, bool, str] | None


class Schedule:
    """A delivery date's months, worked out as far as asked and reused by every customer
    delivered that day (planning asks the same dates the same questions again and again).

    Must equal the month loop of `reference_plan.delivery_candidates`
    (tests/unit/reference_plan.py).
    """

    __slots__ = ("cal", "deadlines", "kinds", "months", "policy", "start_day", "tz", "worked_to")

    def __init__(
        self,
        start_day: date,
        key_deep: bool,
        tz: ZoneInfo,
        cal: BusinessCalendar,
        policy: Policy,
        first: bool = True,
    ) -> None:
        self.start_day, self.tz = start_day, tz
        self.cal, self.policy = cal, policy
        # The recurring kinds this delivery plans: key_deep only for a key customer, the
        # customer's kinds only on their first delivery.
        kinds = set(RECURRING) & policy.kinds
        if not key_deep:
            kinds.discard(KEY_DEEP)
        if not first:
            kinds -= policy.customer_kinds
        self.kinds = frozenset(kinds)
        self.months: list[MonthVisits] = []
        self.worked_to = 0  # the last month looked at
        # Calendar-day deadlines counted from the delivery day (first_use, special), by days.
        self.deadlines: dict[int, tuple[datetime, bool]] = {}

    def deadline(self, days: int) -> tuple[datetime, bool]:
        """calendar_deadline from the delivery day, worked out once per schedule."""
        found = self.deadlines.get(days)
        if found is None:
            found = self.deadlines[days] = calendar_deadline(
                self.start_day, days, self.tz, self.cal
            )
        return found

    def extend(self) -> None:
        """Works out the next year of months (the rule of the reference's month loop)."""
        policy, tz, start_day, cal, on = self.policy, self.tz, self.start_day, self.cal, self.kinds
        last = self.worked_to + 12
        for months in range(self.worked_to + 1, last + 1):
            is_deep = DEEP in on and _every(
                months, policy.deep_from_month, policy.deep_every_months
            )
            is_routine = (
                ROUTINE in on
                and months in policy.routine_months
                and not (is_deep and policy.deep_replaces_routine)
            )
            is_key_deep = KEY_DEEP in on and _every(
                months, policy.key_deep_from_month, policy.key_deep_every_months
            )
            is_quarterly = QUARTERLY in on and _every(
                months, policy.quarterly_from_month, policy.quarterly_every_months
            )
            if not (is_deep or is_routine or is_key_deep or is_quarterly) and months % 12:
                # No rule asks for a visit this month: no date to work out. The yearly entry
                # (even without kinds) ends a customer's walk under a policy without
                # recurring visits.
                continue
            due_day = add_months_to_date(start_day, months)
            kinds: list[tuple[str, int]] = []
            if is_routine:
                kinds.append((ROUTINE, policy.routine_deadline_days))
            if is_deep:
                kinds.append((DEEP, policy.deep_deadline_days))
            if is_key_deep:
                kinds.append((KEY_DEEP, policy.key_deep_deadline_days))
            if is_quarterly:
                kinds.append((QUARTERLY, policy.quarterly_deadline_days))
            deadlines: dict[int, tuple[datetime, bool]] = {}
            found: list[tuple[str, datetime, bool, str]] = []
            for kind, days in kinds:
                at = deadlines.get(days)
                if at is None:  # deep and key_deep share theirs
                    at = deadlines[days] = calendar_deadline(due_day, days, tz, cal)
                found.append((kind, at[0], at[1], f"{kind} visit, month {months} after order "))
            quarterly = found.pop() if is_quarterly else None
            self.months.append(MonthVisits(months, due_day, tuple(found), quarterly))
        self.worked_to = last


def _every(months: int, start: int, every: int) -> bool:
    """Whether `months` is `start` or a multiple of `every` past it."""
    return months >= start and (months - start) % every == 0


class PlanMemo:
    """Delivery-date schedules and yearly holiday-care visits of one calendar and one policy."""

    __slots__ = ("calendar", "festivals", "policy", "schedules")

    def __init__(self, calendar: BusinessCalendar, policy: Policy) -> None:
        self.calendar, self.policy = calendar, policy
        self.schedules: dict[tuple[date, bool, bool, str], Schedule] = {}
        self.festivals: dict[tuple[int, str], tuple[FestivalVisit, ...]] = {}

    @staticmethod
    def of(memo: PlanMemo | None, cal: BusinessCalendar, policy: Policy) -> PlanMemo:
        """`memo` if given (it must be this calendar's and policy's), else a fresh one."""
        if memo is None:
            return PlanMemo(cal, policy)
        if memo.calendar is not cal or memo.policy is not policy:
            raise ValueError("a PlanMemo answers for the one calendar and policy it was made for")
        return memo

    def schedule(
        self, start_day: date, key_deep: bool, tz: ZoneInfo, first: bool = True
    ) -> Schedule:
        """The schedule of deliveries on `start_day` (local) in `tz`, gold or not, the
        customer's first or a later one."""
        key = (start_day, key_deep, first or not self.policy.customer_kinds, tz.key)
        found = self.schedules.get(key)
        if found is None:
            if len(self.schedules) > _SCHEDULES_KEPT:
                self.schedules.clear()
            found = self.schedules[key] = Schedule(
                start_day, key_deep, tz, self.calendar, self.policy, key[2]
            )
        return found

    def festival_visits(self, year: int, tz: ZoneInfo) -> tuple[FestivalVisit, ...]:
        """A year's holiday-care visits in a zone: the same for every customer."""
        key = (year, tz.key)
        found = self.festivals.get(key)
        if found is None:
            found = self.festivals[key] = _festival_visits(year, tz, self.calendar, self.policy)
        return found


def _festival_visits(
    year: int, tz: ZoneInfo, cal: BusinessCalendar, policy: Policy
) -> tuple[FestivalVisit, ...]:
    visits = []
    for name, month, day_of_month in policy.holiday_care_festivals:
        festival = lunar_to_solar(year, month, day_of_month)
        day = festival - timedelta(days=policy.holiday_care_days_before)
        due = datetime.combine(day, policy.holiday_care_at, tz)
        deadline_day = holiday_care_deadline_date(festival, cal)
        deadline = end_of_day(max(deadline_day, day), tz)
        visits.append(
            (
                due,
                deadline,
                cal.is_provisional(deadline_day),
                f"{name} {year} care",
                due.isoformat(),
            )
        )
    return tuple(visits)
