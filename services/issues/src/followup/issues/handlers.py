"""Issues' consumer handlers for the events of other topics and its own: raise issues from a
visit log's problems and judge a follow-up visit's verdict, remember customers' zones, and
apply what the service itself published (so a replay rebuilds it)."""

from __future__ import annotations

from typing import Any

import structlog

from followup.core.rejections import Rejection
from followup.core.subscription import Tx
from followup.events import CustomerDelivered, Event, IntentSigned, VisitLogged
from followup.issues.domain import lifecycle, raising
from followup.issues.domain.model import IssueEvent
from followup.issues.projections import history, ledger
from followup.issues.recording import Recorder, tx_publish

log = structlog.get_logger()


class IssueHandlers:
    """The consumer's handlers over one recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.calendar = recorder.calendar

    async def raise_issues_from_visit_log(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: one issue per problem, or one for a dissatisfied customer who named none;
        an issue_follow_up's verdict closes or reopens."""
        visit = event.data
        publish = tx_publish(tx)
        if visit.problems:
            tz = await ledger.customer_zone(tx.conn, visit.customer_id)
            for raised in raising.raise_issues_from_visit(visit, self.calendar, tz):
                await self.recorder.record(tx.conn, raised.issue_id, raised, tx.now, publish)
        elif visit.satisfaction is not None and visit.outcome == "completed":
            tz = await ledger.customer_zone(tx.conn, visit.customer_id)
            unhappy = raising.raise_dissatisfaction_issue(visit, self.calendar, tz)
            if unhappy is not None:
                await self.recorder.record(tx.conn, unhappy.issue_id, unhappy, tx.now, publish)
        if visit.issue_id and visit.issue_confirmed is not None and visit.outcome == "completed":
            issue = await history.load_issue(tx.conn, visit.issue_id, lock=True)
            verdict = lifecycle.decide_follow_up(issue, visit, self.calendar)
            if isinstance(verdict, Rejection):
                log.info(
                    "follow-up verdict not applied", issue_id=visit.issue_id, reason=verdict.detail
                )
                return
            await self.recorder.record(tx.conn, visit.issue_id, verdict, tx.now, publish)

    async def remember_customer_zone(
        self, tx: Tx, event: Event[CustomerDelivered] | Event[IntentSigned]
    ) -> None:
        """CustomerDelivered / IntentSigned: the zone the customer's deadlines are counted in."""
        tz = event.data.timezone
        if tz is None:
            return
        if not raising.is_zone(tz):
            # The event is valid under the contract (a free string); one bad zone must not stop
            # the partition, and the customer's issues fall back to Asia/Shanghai.
            log.warning("not an IANA time zone; ignored", customer_id=event.data.customer_id)
            return
        await ledger.remember_customer_zone(tx.conn, event.data.customer_id, tz)

    async def apply_published_event(self, tx: Tx, event: Event[Any]) -> None:
        """An event of followup.issues: what this service published, applied once.

        Live, it is already stored (same id, same content) and nothing happens; in a replay it
        rebuilds the decisions made through the API (assignments, pauses, resolutions) and by
        the clock, which no other topic carries.
        """
        data: IssueEvent = event.data
        if not await history.store_published_event(tx.conn, data.issue_id, event.id, data):
            return
        issue = await history.load_issue(tx.conn, data.issue_id)
        if issue is not None:
            await ledger.save_issue_row(tx.conn, issue, tx.now, self.calendar)
