"""The pure pieces of batch planning: ids, folding facts, reconciling the stored plan, and the
deadlines recomputed when official calendar data is loaded (concrete dates)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from followup.calendar import BusinessCalendar, parse_year
from followup.scheduling.domain import model
from followup.scheduling.domain.candidates import all_candidates
from followup.scheduling.domain.model import CustomerFacts, Delivery, Profile
from followup.scheduling.domain.plan import PlannedVisit, horizon_end, plan_customer
from followup.scheduling.domain.reconcile import (
    StoredVisit,
    changed_calendar_years,
    recomputed_deadline,
    reconcile,
)

SH = ZoneInfo("Asia/Shanghai")
LIBRARY = BusinessCalendar.load()
# Test data, not the real 2027 schedule: Spring Festival off Fri Feb 5 .. Sat Feb 13 with Sunday
# Feb 14 worked, Labour Day May 1..5 with Sunday May 9 worked.
CN_2027 = parse_year(
    {
        "region": "CN",
        "year": 2027,
        "source": "test data",
        "holidays": [
            "2027-01-01",
            *(f"2027-02-{d:02d}" for d in range(5, 14)),
            *(f"2027-05-{d:02d}" for d in range(1, 6)),
            *(f"2027-10-{d:02d}" for d in range(1, 8)),
        ],
        "workdays": ["2027-02-14", "2027-05-09"],
    }
)


def test_profile_facts_fold_by_their_own_time_whatever_the_arrival_order() -> None:
    older = {
        "tier": "bronze",
        "segment": "individual",
        "timezone": "America/New_York",
        "region": "US",
        "account_manager_id": None,
        "at": datetime(2026, 1, 5, tzinfo=SH),
    }
    newer = {**older, "tier": "gold", "timezone": None, "region": None}
    newer["at"] = datetime(2026, 3, 5, tzinfo=SH)
    a = model.with_profile_fact(model.with_profile_fact(Profile(), **older), **newer)
    b = model.with_profile_fact(model.with_profile_fact(Profile(), **newer), **older)
    # The latest fact's tier; its missing zone is filled by the older fact's.
    assert (a.tier, a.timezone, a.region, a.profile_at) == (
        "gold",
        "America/New_York",
        "US",
        datetime(2026, 3, 5, tzinfo=SH),
    )
    assert (b.tier, b.timezone, b.profile_at) == (a.tier, a.timezone, a.profile_at)
    signed = model.with_intent_signed(
        model.with_intent_signed(Profile(), datetime(2026, 2, 1, tzinfo=SH)),
        datetime(2026, 1, 1, tzinfo=SH),
    )
    assert signed.intent_signed_at == datetime(2026, 1, 1, tzinfo=SH)  # the first signing


def _visit(visit_id: str, **kw: object) -> PlannedVisit:
    base = PlannedVisit(
        visit_id=visit_id,
        customer_id="C-1",
        order_id="O-1",
        kinds=("routine",),
        due_at=datetime(2026, 4, 2, 10, tzinfo=SH),
        deadline=datetime(2026, 4, 9, 23, 59, 59, tzinfo=SH),
        deadline_provisional=False,
        reason="routine",
        sources=(f"routine|O-1||{visit_id}",),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_reconcile_inserts_new_updates_changed_and_deletes_dropped_open_visits_only() -> None:
    later = datetime(2026, 4, 10, 23, 59, 59, tzinfo=SH)
    stored = [
        StoredVisit(_visit("same"), "planned"),
        # The same instant read back from PostgreSQL (UTC) is no change.
        StoredVisit(
            _visit("utc", deadline=datetime(2026, 4, 9, 15, 59, 59, tzinfo=UTC)), "planned"
        ),
        StoredVisit(_visit("changed"), "planned"),
        StoredVisit(_visit("dropped"), "planned"),
        StoredVisit(_visit("published"), "due"),
        StoredVisit(_visit("published-dropped"), "done"),
        StoredVisit(_visit("retried", attempt=2, kinds=("routine", "retry")), "planned"),
    ]
    wanted = [
        _visit("same"),
        _visit("utc"),
        _visit("changed", deadline=later),
        _visit("published", deadline=later),
        _visit("retried"),
        _visit("new"),
    ]
    changes = reconcile(stored, wanted)
    assert [v.visit_id for v in changes.insert] == ["new"]
    assert [v.visit_id for v in changes.update] == ["changed"]
    assert changes.delete == ["dropped"]


def _customer(delivered: datetime) -> CustomerFacts:
    return CustomerFacts(
        "C-1",
        "bronze",
        "Asia/Shanghai",
        deliveries=(Delivery("C-1", "O-1", delivered, "bronze", "Asia/Shanghai"),),
    )


def test_official_data_moves_provisional_deadlines_of_2027() -> None:
    facts = _customer(datetime(2026, 1, 25, 10, tzinfo=SH))
    now = datetime(2026, 11, 1, tzinfo=SH)
    official = LIBRARY.with_year(CN_2027)
    assert not LIBRARY.is_official(2027)
    plan = {v.due_at: v for v in plan_customer(facts, LIBRARY, now)}
    # Deep (Mon 2027-01-25) and Spring Festival care (Wed Jan 27, 10 days before Sat Feb 6)
    # merge; the later deadline would be the deep one's, but the visit never passes the care's.
    visit = plan[datetime(2027, 1, 25, 10, tzinfo=SH)]
    assert visit.kinds == ("deep", "holiday_care")
    # Care without data: the day before the festival, Fri Feb 5, provisionally.
    assert (visit.deadline, visit.deadline_provisional) == (
        datetime(2027, 2, 5, 23, 59, 59, tzinfo=SH),
        True,
    )
    components = {c.key: c for c in all_candidates(facts, official, until=horizon_end(facts, now))}
    deep, care = (
        next(components[k] for k in visit.sources if k.startswith(kind))
        for kind in ("deep", "holiday_care")
    )
    # Deep on the official data: Feb 8 is still off, but Sunday Feb 14 is a make-up working day.
    assert (deep.deadline, deep.provisional) == (
        datetime(2027, 2, 14, 23, 59, 59, tzinfo=SH),
        False,
    )
    # Care on the official data, whose holiday starts Fri Feb 5: the last working day before
    # it, Thu Feb 4. The visit's deadline is the care's again.
    assert (care.deadline, care.provisional) == (datetime(2027, 2, 4, 23, 59, 59, tzinfo=SH), False)
    assert recomputed_deadline(visit, components, "Asia/Shanghai", official) == (
        datetime(2027, 2, 4, 23, 59, 59, tzinfo=SH),
        False,
    )
    # The months after: quarterly due Sun 2027-04-25, + 14 days = Sun May 9, provisional
    # Mon May 10; official: May 9 is worked.
    quarterly = plan[datetime(2027, 4, 25, 10, tzinfo=SH)]
    assert (quarterly.kinds, quarterly.deadline) == (
        ("quarterly",),
        datetime(2027, 5, 10, 23, 59, 59, tzinfo=SH),
    )
    assert recomputed_deadline(quarterly, components, "Asia/Shanghai", official) == (
        datetime(2027, 5, 9, 23, 59, 59, tzinfo=SH),
        False,
    )


def test_a_retry_deadline_is_counted_again_from_its_due_time() -> None:
    retry = _visit(
        "r",
        attempt=2,
        due_at=datetime(2027, 2, 12, 9, tzinfo=SH),
        deadline=datetime(2027, 2, 15, 23, 59, 59, tzinfo=SH),
        deadline_provisional=True,
    )
    official = LIBRARY.with_year(CN_2027)
    # The end of the working day after Fri Feb 12: Sat 13 off, Sun 14 worked.
    assert recomputed_deadline(retry, {}, "Asia/Shanghai", official) == (
        datetime(2027, 2, 14, 23, 59, 59, tzinfo=SH),
        False,
    )


def test_changed_calendar_years() -> None:
    assert changed_calendar_years({2026: "a"}, {2026: "a", 2027: "b"}) == {2027}
    assert changed_calendar_years({2026: "a"}, {2026: "c"}) == {2026}
    assert changed_calendar_years({2026: "a"}, {2026: "a"}) == set()
    assert LIBRARY.with_year(CN_2027).official_fingerprints()[2027] != ""
    assert set(LIBRARY.official_fingerprints()) == LIBRARY.years_official()
