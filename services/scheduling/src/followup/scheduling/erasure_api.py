"""`POST /v1/customers/{customer_id}/erasure` (SPEC §8): an admin forgets a customer.

Scheduling is the intake, so it owns the route: the tombstone on followup.keys first (what
erases), then CustomerErased through the outbox (what services and the audit trail read).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.clock import Clock
from followup.core.erasure import erasure_event, tombstone
from followup.core.keystore import KeyStore
from followup.core.outbox import publish_events


class Erasure(BaseModel):
    """What the route answers: the erasure's event, and whether it had been asked already."""

    customer_id: str
    event_id: str
    requested_by: str
    erased_at: datetime
    already_erased: bool


def requester(principal: Principal) -> str:
    """Who asks, for the audit trail: the token's name, or its role."""
    return principal.name or principal.role.value


def router(auth: Authenticate, topic_prefix: str) -> APIRouter:
    """The erasure route, admins only."""
    api = APIRouter(prefix="/v1", tags=["erasure"], dependencies=[Depends(auth)])

    @api.post("/customers/{customer_id}/erasure", status_code=202)
    async def erase_customer(
        customer_id: str, request: Request, response: Response, principal: Principal = Depends(auth)
    ) -> Erasure:
        """Forgets the customer's personal data everywhere; 200 when it was forgotten already."""
        require_role(principal, Role.ADMIN)
        store: KeyStore = request.app.state.key_store
        pool: asyncpg.Pool = request.app.state.pool
        clock: Clock = request.app.state.clock
        who = requester(principal)
        event = erasure_event(customer_id, who, clock.now(), source="followup/scheduling")
        already = await tombstone(store, customer_id, who)
        async with pool.acquire() as conn, conn.transaction():
            await publish_events(conn, [event], topic_prefix=topic_prefix)
        if already:
            response.status_code = 200
        return Erasure(
            customer_id=customer_id,
            event_id=event.id,
            requested_by=who,
            erased_at=event.data.erased_at,
            already_erased=already,
        )

    return api
