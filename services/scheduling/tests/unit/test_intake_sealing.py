"""The intake's sealing of one event (SPEC §8): personal fields sealed, the rest unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from followup.core.sealing import ERASED, is_sealed, new_data_key, unseal_text
from followup.events import Contact, CustomerDelivered, ProjectStarted, encode, make_event
from followup.scheduling.intake import sealed_event

AT = datetime(2026, 3, 1, 2, tzinfo=UTC)


def delivered() -> object:
    data = CustomerDelivered(
        customer_id="C-000123",
        order_id="O-1",
        delivered_at=AT,
        product="Home cinema HC-9",
        tier="gold",
        segment="individual",
        contact=Contact(name="Li Lei", phone="+86 138 0000 1234", email="li@example.cn"),
    )
    return make_event(data, id="e-1", source="erp", subject="C-000123", time=AT)


def test_a_delivery_keeps_its_envelope_and_product_and_seals_each_contact_field() -> None:
    key = new_data_key("C-000123")
    event = delivered()
    sealed = sealed_event(event, key)  # type: ignore[arg-type]
    assert (sealed.id, sealed.type, sealed.time, sealed.subject) == (
        "e-1",
        "CustomerDelivered",
        AT,
        "C-000123",
    )
    assert sealed.data.product == "Home cinema HC-9"
    contact = sealed.data.contact
    assert all(is_sealed(v) for v in (contact.name, contact.phone, contact.email))
    assert unseal_text(key, contact.phone) == "+86 138 0000 1234"
    assert b"0000 1234" not in encode(sealed)


def test_an_erased_customers_delivery_comes_in_without_its_contact() -> None:
    sealed = sealed_event(delivered(), ERASED)  # type: ignore[arg-type]
    assert (sealed.data.contact.name, sealed.data.contact.phone) == ("[erased]", "[erased]")


def test_an_event_without_personal_data_is_republished_as_it_is() -> None:
    event = make_event(
        ProjectStarted(customer_id="C-1", started_at=AT),
        id="e-2",
        source="erp",
        subject="C-1",
        time=AT,
    )
    assert sealed_event(event, None) is event
