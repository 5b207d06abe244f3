"""Dispute reads on SQLite and PostgreSQL that the API does not show by itself: the
customer's view of the timeline, and which disputes the report is handed for a period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from store import dispute_reads, disputes
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.disputes import OPENED, seed_dispute, seed_invoice


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_the_customer_sees_only_the_timeline_entries_meant_for_them(
    sessions: SessionFactory,
) -> None:
    dispute = await seed_dispute(sessions, await seed_invoice(sessions))
    entries = [
        ("opened", True),
        ("note", False),
        ("approval_requested", False),
        ("remedy_proposed", True),
    ]
    async with transaction(sessions) as session:
        for n, (kind, visible) in enumerate(entries):
            await disputes.add_event(
                session,
                dispute_id=dispute.id,
                event_key=f"{dispute.id}:{n}",
                at=OPENED + timedelta(minutes=n),
                kind=kind,
                actor="olivia",
                text=kind,
                visible_to_customer=visible,
            )
    async with transaction(sessions, writes=False) as session:
        staff = await dispute_reads.events_of(session, dispute.id)
        customer = await dispute_reads.events_of(session, dispute.id, customer_view=True)
        missing = await dispute_reads.dispute_detail(session, "dsp_none")
    assert [e.kind for e in staff] == [kind for kind, _ in entries]
    assert [e.kind for e in customer] == ["opened", "remedy_proposed"]
    assert missing is None


async def test_the_report_gets_the_disputes_opened_or_resolved_in_the_period(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 12, 1, tzinfo=UTC)

    async def dispute(opened: datetime, resolved: datetime | None = None, **fields: object) -> str:
        if resolved is not None:
            fields |= {"status": "resolved", "resolved_at": resolved}
        row = await seed_dispute(sessions, invoice, intake_fields={"opened_at": opened}, **fields)
        return row.number

    await dispute(start + timedelta(days=3))  # opened in it
    await dispute(start - timedelta(days=9), start + timedelta(days=1), level=2)  # resolved in it
    await dispute(start - timedelta(days=9))  # before, still open
    await dispute(start - timedelta(days=9), start - timedelta(seconds=1))  # over before it
    await dispute(end)  # the next period's first instant
    async with transaction(sessions, writes=False) as session:
        cases = await dispute_reads.report_rows(session, start, end)
    assert [(c.opened_at, c.resolved_at, c.resolved_level) for c in cases] == [
        # no resolved_level recorded: the level it was resolved at
        (start - timedelta(days=9), start + timedelta(days=1), 2),
        (start + timedelta(days=3), None, None),
    ]
    assert all(c.currency == "GBP" and c.reason == "pricing" for c in cases)
