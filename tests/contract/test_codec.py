"""The codec: what is accepted, what is rejected and why (SPEC §6), and lossless round trips."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.events import (
    Checklist,
    ClockAdvanced,
    Contact,
    CustomerDelivered,
    Event,
    EventData,
    IssueRaised,
    IssueResolved,
    Problem,
    ProjectStarted,
    RejectedMessage,
    RejectReason,
    VisitDue,
    VisitLogged,
    decode,
    decode_many,
    encode,
    make_event,
    to_document,
)
from followup.events.codec import _decode_explained

from .contract_files import EXAMPLES_DIR, load

CST = timezone(timedelta(hours=8))
T = datetime(2026, 3, 2, 10, 0, tzinfo=CST)


def golden(type_name: str, name: str = "minimal") -> dict[str, Any]:
    doc: dict[str, Any] = load(EXAMPLES_DIR / type_name / f"v1-{name}.json")
    return doc


def raw_of(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def rejected(raw: bytes) -> RejectedMessage:
    with pytest.raises(RejectedMessage) as err:
        decode(raw)
    # The slow path that explains rejections gives the same verdict on its own.
    with pytest.raises(RejectedMessage) as again:
        _decode_explained(raw)
    assert (again.value.reason, again.value.detail) == (err.value.reason, err.value.detail)
    for e in err.value.errors:
        assert set(e) == {"loc", "msg", "type"}
        assert isinstance(e["loc"], list) and isinstance(e["msg"], str)
    return err.value


# not_json -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"specversion": ',
        b"\xff\xfe{}",
        b"{'specversion': '1.0'}",
        b"NaN",
        b"not json at all",
        b'{"a": 1}garbage',
    ],
)
def test_bytes_that_are_not_json_are_rejected_as_not_json(raw: bytes) -> None:
    err = rejected(raw)
    assert err.reason is RejectReason.NOT_JSON
    assert str(err).startswith("not_json: ")


def test_a_truncated_golden_example_is_not_json() -> None:
    raw = (EXAMPLES_DIR / "VisitLogged" / "v1-full.json").read_bytes()
    assert rejected(raw[: len(raw) // 2]).reason is RejectReason.NOT_JSON


# not_cloudevent ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"VisitDue"', b"null", b"42", b"{}", b"true"])
def test_json_that_is_not_an_object_with_the_attributes_is_not_a_cloudevent(raw: bytes) -> None:
    assert rejected(raw).reason is RejectReason.NOT_CLOUDEVENT


@pytest.mark.parametrize("attribute", ["specversion", "id", "source", "type", "time", "subject"])
def test_a_missing_required_attribute_is_not_a_cloudevent(attribute: str) -> None:
    doc = golden("ProjectStarted")
    del doc[attribute]
    err = rejected(raw_of(doc))
    assert err.reason is RejectReason.NOT_CLOUDEVENT
    assert {"loc": [attribute], "msg": "Field required", "type": "missing"} in err.errors


@pytest.mark.parametrize(
    ("attribute", "value", "error_type"),
    [
        ("specversion", "0.3", "literal_error"),
        ("specversion", 1.0, "literal_error"),
        ("id", "", "string_too_short"),
        ("id", "x" * 201, "string_too_long"),
        ("subject", 42, "string_type"),
        ("time", "2026-03-20T09:00:00", "timezone_aware"),  # no offset
        ("time", "20 March 2026", "datetime_parsing"),
        ("time", 1774000000, "datetime_type"),
        ("datacontenttype", "text/plain", "literal_error"),
        ("dataversion", "1", "int_type"),
        ("dataversion", True, "int_type"),
        ("data", "a string", "dict_type"),
        ("data", None, "dict_type"),
        ("type", "", "string_too_short"),
    ],
)
def test_an_invalid_attribute_is_not_a_cloudevent_and_the_error_names_it(
    attribute: str, value: Any, error_type: str
) -> None:
    doc = {**golden("ProjectStarted"), attribute: value}
    err = rejected(raw_of(doc))
    assert err.reason is RejectReason.NOT_CLOUDEVENT
    assert [(e["loc"], e["type"]) for e in err.errors] == [([attribute], error_type)]


def test_the_envelope_is_judged_before_the_type() -> None:
    doc = {**golden("ProjectStarted"), "type": "CustomerTeleported", "specversion": "0.3"}
    assert rejected(raw_of(doc)).reason is RejectReason.NOT_CLOUDEVENT


# unknown_type --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_name", ["CustomerTeleported", "projectstarted", "Visit Due", "VisitDue.v1", "Envelope"]
)
def test_a_type_outside_the_contract_is_rejected_as_unknown_type(type_name: str) -> None:
    err = rejected(raw_of({**golden("ProjectStarted"), "type": type_name}))
    assert err.reason is RejectReason.UNKNOWN_TYPE
    assert type_name in err.detail


def test_the_type_is_judged_before_the_dataversion() -> None:
    doc = {**golden("ProjectStarted"), "type": "CustomerTeleported", "dataversion": 7}
    assert rejected(raw_of(doc)).reason is RejectReason.UNKNOWN_TYPE


# unsupported_dataversion ---------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 99, 0, -1])
def test_a_dataversion_we_cannot_read_is_rejected(version: int) -> None:
    err = rejected(raw_of({**golden("ProjectStarted"), "dataversion": version}))
    assert err.reason is RejectReason.UNSUPPORTED_DATAVERSION
    assert f"dataversion {version}" in err.detail and "readable: [1]" in err.detail


def test_a_missing_dataversion_reads_as_1() -> None:
    doc = golden("ProjectStarted")
    del doc["dataversion"]
    assert decode(raw_of(doc)).dataversion == 1


# invalid_data --------------------------------------------------------------------------------


def test_invalid_data_is_rejected_with_every_field_error_and_its_location() -> None:
    doc = golden("VisitLogged", "full")
    doc["data"]["satisfaction"] = 9
    doc["data"]["channel"] = "fax"
    doc["data"]["logged_at"] = "2026-02-14T10:30:00"  # no offset
    doc["data"]["problems"][0]["category"] = "gremlins"
    doc["data"]["checklist"]["acoustics"] = 0
    del doc["data"]["agent_id"]
    err = rejected(raw_of(doc))
    assert err.reason is RejectReason.INVALID_DATA
    assert err.detail == "VisitLogged data failed validation"
    found = {(tuple(e["loc"]), e["type"]) for e in err.errors}
    assert found == {
        (("data", "satisfaction"), "less_than_equal"),
        (("data", "channel"), "literal_error"),
        (("data", "logged_at"), "timezone_aware"),
        (("data", "problems", 0, "category"), "literal_error"),
        (("data", "checklist", "acoustics"), "greater_than_equal"),
        (("data", "agent_id"), "missing"),
    }


@pytest.mark.parametrize(
    ("type_name", "field", "value", "error_type"),
    [
        # Strict: no coercion from strings, floats or booleans.
        ("VisitLogged", "satisfaction", "4", "int_type"),
        ("VisitLogged", "satisfaction", 4.0, "int_type"),
        ("VisitLogged", "satisfaction", 0, "greater_than_equal"),
        ("VisitLogged", "issue_confirmed", "yes", "bool_type"),
        ("VisitLogged", "needs", ["upgrade", "free_pizza"], "literal_error"),
        ("VisitDue", "attempt", 4, "less_than_equal"),
        ("VisitDue", "attempt", 0, "greater_than_equal"),
        ("VisitDue", "attempt", True, "int_type"),
        ("VisitDue", "kinds", [], "too_short"),
        ("VisitDue", "kinds", ["first_use", "someday"], "literal_error"),
        ("VisitDue", "due_at", "2026-01-20", "datetime_parsing"),  # a date is no instant
        ("CustomerDelivered", "tier", "platinum", "literal_error"),
        ("CustomerDelivered", "segment", "Individual", "literal_error"),
        ("CustomerDelivered", "contact", None, "model_type"),
        ("CustomerDelivered", "customer_id", "", "string_too_short"),
        ("IssueRaised", "severity", "critical", "literal_error"),
        ("IssueRaised", "department", "sales", "literal_error"),
        ("IssueRaised", "source", "email", "literal_error"),
        ("IssueResolved", "paused_seconds", -1, "greater_than_equal"),
        ("VisitSpotChecked", "result", "maybe", "literal_error"),
        ("ClockAdvanced", "now", "1970-01-01T00:00:00", "timezone_aware"),
    ],
)
def test_a_field_outside_its_type_is_invalid_data(
    type_name: str, field: str, value: Any, error_type: str
) -> None:
    name = "minimal"
    doc = golden(type_name, name)
    doc["data"][field] = value
    err = rejected(raw_of(doc))
    assert err.reason is RejectReason.INVALID_DATA
    locs = [(e["loc"][:2], e["type"]) for e in err.errors]
    assert (["data", field], error_type) in locs


def test_data_of_one_type_under_another_types_name_is_invalid_data() -> None:
    doc = {**golden("VisitDue"), "type": "IssueClosed"}
    err = rejected(raw_of(doc))
    assert err.reason is RejectReason.INVALID_DATA
    assert {"issue_id", "closed_at", "confirmed_by_visit_id"} <= {
        e["loc"][1] for e in err.errors if e["type"] == "missing"
    }


# What is accepted ----------------------------------------------------------------------------


def test_unknown_attributes_and_fields_are_ignored_so_newer_producers_stay_readable() -> None:
    doc = golden("VisitLogged", "full")
    doc["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    doc["data"]["sentiment"] = {"score": 0.9}
    doc["data"]["checklist"]["installation"] = 5
    doc["data"]["problems"][0]["photo_url"] = "https://example.com/p.jpg"
    event = decode(raw_of(doc))
    assert isinstance(event.data, VisitLogged)
    assert event.data.checklist == Checklist(
        equipment=5, audio_video=4, smart_control=4, acoustics=5, response_speed=3, staff_attitude=5
    )
    assert "sentiment" not in event.data.model_dump()


def test_valid_json_that_orjson_cannot_read_is_still_judged_by_the_contract() -> None:
    doc = golden("ProjectStarted")
    raw = raw_of(doc)[:-1] + b', "huge": 1e400}'  # overflows a double
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    started = datetime(2026, 3, 20, 9, 0, tzinfo=CST)
    assert decode(raw).data == ProjectStarted(customer_id="C-000200", started_at=started)


def test_times_keep_their_offset() -> None:
    event = decode(raw_of(golden("ProjectStarted")))
    assert event.time.utcoffset() == timedelta(hours=8)
    assert isinstance(event.data, ProjectStarted)
    assert event.data.started_at == datetime(2026, 3, 20, 1, 0, tzinfo=UTC)
    assert event.data.started_at.utcoffset() == timedelta(hours=8)


def test_decode_many_keeps_the_order_and_returns_rejections_in_place() -> None:
    good = raw_of(golden("ProjectStarted"))
    bad = raw_of({**golden("ProjectStarted"), "type": "Nope"})
    out = decode_many([good, b"{", bad, good])
    assert [type(x).__name__ for x in out] == [
        "Event",
        "RejectedMessage",
        "RejectedMessage",
        "Event",
    ]
    assert [x.reason for x in out if isinstance(x, RejectedMessage)] == [
        RejectReason.NOT_JSON,
        RejectReason.UNKNOWN_TYPE,
    ]


def test_decoding_is_fast_enough_for_the_consumers() -> None:
    """~20,000 messages/s on 2 cores leaves well under 100 µs a message; allow 10x slack."""
    raw = (EXAMPLES_DIR / "VisitLogged" / "v1-full.json").read_bytes()
    decode(raw)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        decode(raw)
    per_message = (time.perf_counter() - start) / n
    assert per_message < 1e-3, f"{per_message * 1e6:.0f} µs a message"


# Encoding and make_event ---------------------------------------------------------------------


def test_encode_writes_the_spec_shape_with_rfc3339_times_and_without_absent_options() -> None:
    data = ProjectStarted(customer_id="C-1", started_at=T)
    event = make_event(data, id="e-1", source="crm/projects", subject="C-1", time=T)
    doc = orjson.loads(encode(event))
    assert doc == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "crm/projects",
        "type": "ProjectStarted",
        "time": "2026-03-02T10:00:00+08:00",
        "subject": "C-1",
        "datacontenttype": "application/json",
        "dataversion": 1,
        "data": {"customer_id": "C-1", "started_at": "2026-03-02T10:00:00+08:00"},
    }
    assert to_document(event) == doc
    assert list(doc) == list(to_document(event))


def test_make_event_fills_type_and_dataversion_from_the_registry() -> None:
    event = make_event(
        ClockAdvanced(now=T), id="c", source="tests", subject="clock", time=T, causationid="x"
    )
    assert (event.type, event.dataversion, event.causationid, event.correlationid) == (
        "ClockAdvanced",
        1,
        "x",
        None,
    )


def test_make_event_refuses_what_decode_would_reject() -> None:
    data = ProjectStarted(customer_id="C-1", started_at=T)
    with pytest.raises(ValueError, match="offset"):
        make_event(data, id="e", source="s", subject="C-1", time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="id"):
        make_event(data, id="", source="s", subject="C-1", time=T)
    with pytest.raises(ValueError, match="subject"):
        make_event(data, id="e", source="s", subject="", time=T)
    with pytest.raises(TypeError, match="not an event type"):
        make_event(Contact(name="n", phone="p"), id="e", source="s", subject="C-1", time=T)  # type: ignore[type-var]


def test_models_are_frozen_and_reject_naive_times() -> None:
    data = ProjectStarted(customer_id="C-1", started_at=T)
    with pytest.raises(ValueError, match="frozen"):
        data.customer_id = "C-2"
    with pytest.raises(ValueError, match="timezone"):
        ProjectStarted(customer_id="C-1", started_at=datetime(2026, 1, 1))


# Round trips ---------------------------------------------------------------------------------

_chars = st.characters(codec="utf-8")  # any character JSON text can carry (no surrogates)
ids = st.text(_chars, min_size=1, max_size=40)
texts = st.text(_chars, max_size=200)
zones = st.sampled_from(
    [UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")]
) | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
# Times in real zones, pinned to the offset they have there: Python never finds a time in a DST
# gap or overlap of a zone equal to any time elsewhere (PEP 495), which is not our concern here.
instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 31), timezones=zones
).map(lambda d: d.astimezone(timezone(d.utcoffset() or timedelta(0))))
scores = st.integers(1, 5)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


contacts = st.builds(Contact, name=texts, phone=texts, email=opt(texts), address=opt(texts))
customer_delivered = st.builds(
    CustomerDelivered,
    customer_id=ids,
    order_id=ids,
    delivered_at=instants,
    product=texts,
    tier=st.sampled_from(["gold", "silver", "bronze"]),
    segment=st.sampled_from(["individual", "enterprise", "institution"]),
    timezone=opt(st.sampled_from(["Asia/Shanghai", "Asia/Urumqi"])),
    region=opt(texts),
    account_manager_id=opt(ids),
    contact=contacts,
)
visit_due = st.builds(
    VisitDue,
    visit_id=ids,
    customer_id=ids,
    order_id=opt(ids),
    kinds=st.lists(
        st.sampled_from(["first_use", "routine", "deep", "holiday_care", "retry"]), min_size=1
    ),
    due_at=instants,
    deadline=instants,
    attempt=st.integers(1, 3),
    issue_id=opt(ids),
    agent_id=opt(ids),
    reason=texts,
)
problems = st.builds(
    Problem,
    problem_id=ids,
    category=st.sampled_from(
        ["fault", "maintenance", "technical", "complaint", "service", "other"]
    ),
    severity=st.sampled_from(["general", "complex"]),
    description=st.text(_chars, min_size=1, max_size=100),
)
visit_logged = st.builds(
    VisitLogged,
    visit_id=ids,
    customer_id=ids,
    agent_id=ids,
    channel=st.sampled_from(["phone", "onsite", "video", "message"]),
    outcome=st.sampled_from(["completed", "unreachable", "declined", "rescheduled"]),
    logged_at=instants,
    satisfaction=opt(scores),
    checklist=opt(st.builds(Checklist, equipment=opt(scores), acoustics=opt(scores))),
    needs=opt(
        st.lists(st.sampled_from(["upgrade", "maintenance_plan", "new_feature", "referral"]))
    ),
    feedback=opt(texts),
    problems=opt(st.lists(problems, max_size=3)),
    issue_id=opt(ids),
    issue_confirmed=opt(st.booleans()),
)
issue_raised = st.builds(
    IssueRaised,
    issue_id=ids,
    customer_id=ids,
    source=st.sampled_from(["visit", "complaint", "hotline"]),
    visit_id=opt(ids),
    category=st.sampled_from(["fault", "complaint", "other"]),
    severity=st.sampled_from(["general", "complex"]),
    description=texts,
    raised_at=instants,
    department=st.sampled_from(["after_sales", "technical", "customer_service"]),
    handover_by=instants,
    respond_by=instants,
    resolve_by=instants,
)
issue_resolved = st.builds(
    IssueResolved,
    issue_id=ids,
    customer_id=ids,
    resolved_at=instants,
    resolved_by=ids,
    resolution=texts,
    resolve_by=instants,
    paused_seconds=st.integers(0, 2**53),
)
clock = st.builds(ClockAdvanced, now=instants)
datas = st.one_of(customer_delivered, visit_due, visit_logged, issue_raised, issue_resolved, clock)


@st.composite
def events(draw: st.DrawFn) -> Event[EventData]:
    return make_event(
        draw(datas),
        id=draw(ids),
        source=draw(st.text(_chars, min_size=1, max_size=40)),
        subject=draw(ids),
        time=draw(instants),
        correlationid=draw(opt(ids)),
        causationid=draw(opt(ids)),
    )


def _offsets(value: Any) -> list[timedelta | None]:
    """Every offset of every time in an event, in field order."""
    if isinstance(value, datetime):
        return [value.utcoffset()]
    if isinstance(value, EventData | Checklist | Problem | Contact):
        return [o for name in type(value).model_fields for o in _offsets(getattr(value, name))]
    if isinstance(value, list):
        return [o for v in value for o in _offsets(v)]
    return []


@settings(max_examples=300, deadline=None)
@given(event=events())
def test_encode_then_decode_gives_the_same_event(event: Event[EventData]) -> None:
    raw = encode(event)
    again = decode(raw)
    assert again == event
    assert type(again.data) is type(event.data)
    # The same instants and the same offsets (equality of aware datetimes ignores offsets).
    assert again.time.utcoffset() == event.time.utcoffset()
    assert _offsets(again.data) == _offsets(event.data)
    # And the bytes are stable: encoding the decoded event gives the same message.
    assert encode(again) == raw
    assert orjson.loads(raw) == to_document_json(again)


def to_document_json(event: Event[EventData]) -> Any:
    return orjson.loads(orjson.dumps(to_document(event)))


@settings(max_examples=100, deadline=None)
@given(
    event=events(),
    extra=st.dictionaries(st.text(min_size=1, max_size=10), st.integers(-(2**53), 2**53)),
)
def test_a_reader_ignores_fields_added_by_a_later_writer(
    event: Event[EventData], extra: dict[str, int]
) -> None:
    doc = orjson.loads(encode(event))
    doc["data"] = {**{f"x_{k}": v for k, v in extra.items()}, **doc["data"]}
    assert decode(orjson.dumps(doc)) == event
