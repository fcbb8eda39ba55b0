"""The vault seals an event's free text with the customer's key and opens answers (SPEC §8).

The key store here is a dictionary standing in for followup.keys (tested on the broker in
test_keystore.py): what is tested is the sealing around it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from followup.core.crypto import PersonalDataVault, VaultKeys
from followup.core.keystore import KeyStore
from followup.core.sealing import ERASED, DataKey, Erased, MasterKeys, is_sealed, new_data_key
from followup.events import IssueResolved

AT = datetime(2026, 3, 6, 2, tzinfo=UTC)
PHONE = "139 0042 7315"


class Keys:
    def __init__(self) -> None:
        self.keys: dict[str, DataKey | Erased] = {}

    async def key_for_sealing(self, customer_id: str) -> DataKey | Erased:
        return self.keys.setdefault(customer_id, new_data_key(customer_id))

    async def key(self, customer_id: str) -> DataKey | Erased:
        return self.keys[customer_id]


def vault(keys: Keys) -> PersonalDataVault:
    return PersonalDataVault(VaultKeys(MasterKeys({1: bytes([7]) * 32})), cast(KeyStore, keys))


def resolved() -> IssueResolved:
    return IssueResolved(
        issue_id="I-1",
        customer_id="C-1",
        resolved_at=AT,
        resolved_by="E-9",
        resolution=f"called back on {PHONE}",
        resolve_by=AT,
        paused_seconds=0,
    )


async def test_free_text_is_sealed_and_an_answer_opens_for_a_reader_until_erasure() -> None:
    keys = Keys()
    sealed = await vault(keys).seal_data("IssueResolved", "C-1", resolved())
    assert is_sealed(sealed.resolution) and PHONE not in sealed.model_dump_json()
    assert sealed.resolved_by == "E-9" and sealed.resolved_at == AT
    answer: dict[str, Any] = {"timeline": ({"details": {"resolution": sealed.resolution}},)}
    opened = await vault(keys).open_texts("C-1", answer)
    assert opened["timeline"][0]["details"]["resolution"] == f"called back on {PHONE}"
    keys.keys["C-1"] = ERASED
    gone = await vault(keys).open_texts("C-1", answer)
    assert gone["timeline"][0]["details"]["resolution"] == "[erased]"


async def test_an_erased_customers_new_text_is_never_stored() -> None:
    keys = Keys()
    keys.keys["C-1"] = ERASED
    sealed = await vault(keys).seal_data("IssueResolved", "C-1", resolved())
    assert sealed.resolution == "[erased]"
