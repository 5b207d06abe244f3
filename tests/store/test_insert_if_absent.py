"""insert_if_absent on both engines: new rows say so, repeats write nothing and say so."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from schemas.tables import AuditEvent, IdempotencyRecord
from store.db import create_engine, insert_if_absent, session_factory, transaction


async def test_the_first_insert_is_new_and_a_repeat_writes_nothing(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    at = datetime(2026, 11, 24, 12, tzinfo=UTC)

    async def record(step_key: str, action: str) -> bool:
        async with transaction(sessions) as session:
            return await insert_if_absent(
                session,
                AuditEvent,
                step_key=step_key,
                invoice_id="inv_1",
                entity="invoice",
                action=action,
                actor="test",
                at=at,
                data={"n": 1},
            )

    outcomes = [
        await record("inv_1:generated", "invoice.generated"),
        await record("inv_1:generated", "invoice.changed"),  # the same step, retried
        await record("inv_1:issued", "invoice.issued"),
    ]
    async with transaction(sessions) as session:
        new_key = await insert_if_absent(  # another table through the same helper
            session,
            IdempotencyRecord,
            api_key_id="key_1",
            key="k1",
            method="POST",
            path="/invoices",
            request_hash="h",
            status_code=202,
            response_body={"ok": True},
            location=None,
            created_at=at,
        )
        rows = (await session.exec(select(AuditEvent).order_by(AuditEvent.step_key))).all()

    assert outcomes == [True, False, True]
    assert new_key is True
    assert [(r.step_key, r.action, r.data) for r in rows] == [
        ("inv_1:generated", "invoice.generated", {"n": 1}),  # the repeat changed nothing
        ("inv_1:issued", "invoice.issued", {"n": 1}),
    ]
    await engine.dispose()
