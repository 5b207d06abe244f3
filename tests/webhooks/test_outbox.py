"""The audit trail as an outbox, on both engines: a row that commits after a higher id
was read (PostgreSQL can do that) is still fanned out; a row read twice is sent once;
an endpoint gets only what happened after it subscribed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from schemas.tables import AuditEvent
from schemas.webhook_tables import WebhookCursorRow, WebhookDeliveryRow, WebhookEventRow
from store import webhook_outbox, webhooks
from store.db import create_engine, session_factory, transaction

SETTLE = timedelta(seconds=30)


def audit(id_: int, step: str, action: str = "invoice.overdue") -> AuditEvent:
    return AuditEvent(
        id=id_,
        step_key=step,
        invoice_id="inv_1",
        entity="invoice",
        action=action,
        actor="workflow",
        at=datetime.now(UTC),
        data={},
    )


async def test_a_late_committed_row_below_the_cursor_is_still_sent_once(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            endpoint = await webhooks.create_endpoint(
                session, url="http://x.test/h", event_types=["*"], description="", created_by="t"
            )
            endpoint.created_at = datetime.now(UTC) - timedelta(minutes=1)
            session.add(endpoint)

        async def poll(now: datetime | None = None) -> int:
            async with transaction(sessions) as session:
                rows, _ = await webhook_outbox.read_source(
                    session, "audit_events", batch=100, settle=SETTLE, now=now or datetime.now(UTC)
                )
                endpoints = await webhook_outbox.active_endpoints(session)
                _, new = await webhook_outbox.fan_out(session, rows, endpoints, datetime.now(UTC))
            return new

        assert await poll() == 0  # the first read only finds the trail's end
        async with transaction(sessions) as session:
            session.add(audit(1, "inv_1:overdue"))
            session.add(audit(3, "inv_1:close", "invoice.closed"))  # 2: still in flight
        assert await poll() == 2
        async with sessions() as session:
            cursor = await session.get(WebhookCursorRow, "audit_events")
            assert cursor is not None and cursor.last_id == 3 and list(cursor.gaps) == ["2"]
        async with transaction(sessions) as session:  # 2 commits after 3 was read
            session.add(audit(2, "dsp_1:opened", "dispute.opened"))
        assert await poll() == 1
        assert await poll() == 0  # read again: nothing new
        async with sessions() as session:
            kinds = sorted(e.type for e in await session.exec(select(WebhookEventRow)))
            deliveries = list(await session.exec(select(WebhookDeliveryRow)))
            cursor = await session.get(WebhookCursorRow, "audit_events")
        assert kinds == ["invoice.closed", "invoice.disputed", "invoice.overdue"]
        assert len(deliveries) == 3 and cursor is not None and cursor.gaps == {}

        async with transaction(sessions) as session:
            session.add(audit(6, "inv_1:x", "invoice.paid"))  # 4 and 5: rolled back
        assert await poll() == 1
        assert await poll(datetime.now(UTC) + SETTLE * 2) == 0  # the gaps expire
        async with sessions() as session:
            cursor = await session.get(WebhookCursorRow, "audit_events")
        assert cursor is not None and cursor.gaps == {}
    finally:
        await engine.dispose()
