"""The worker's gauges read the right figures from a known data set, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.invoice import InvoiceStatus
from schemas.tables import Invoice
from store import ops_gauges, sync_status
from store.db import create_engine, session_factory, transaction
from tests.support.disputes import seed_dispute, seed_invoice
from tests.support.exceptions import seed_exception

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


async def test_figures_count_invoices_queues_and_the_oldest_failing_post(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        paid = await seed_invoice(sessions)
        async with transaction(sessions) as session:
            row = await session.get(Invoice, paid.invoice_id)
            assert row is not None
            row.status = InvoiceStatus.CLOSED.value
            session.add(row)
        issued = [await seed_invoice(sessions) for _ in range(2)]
        await seed_exception(sessions)  # an invoice in EXCEPTION, its exception open
        await seed_dispute(sessions, issued[0])
        await seed_dispute(sessions, issued[1], sla_breached=True, status="waiting_on_customer")
        async with transaction(sessions) as session:
            for key, invoice, hours in (
                ("invoice:a", issued[0], 3),
                ("payment:a", issued[0], 1),
                ("invoice:b", issued[1], 2),
            ):
                await sync_status.post_failed(
                    session,
                    key=key,
                    invoice_id=invoice.invoice_id,
                    kind=key.split(":")[0],
                    gave_up_at=NOW - timedelta(hours=hours),
                    error="503",
                    now=NOW,
                )

        async with transaction(sessions, writes=False) as session:
            figures = await ops_gauges.read(session, NOW)

        assert figures.invoices_by_status["ISSUED"] == 2
        assert figures.invoices_by_status["CLOSED"] == 1
        assert figures.invoices_by_status["EXCEPTION"] == 1
        assert figures.invoices_by_status["PAID"] == 0  # every status, none left out
        assert set(figures.invoices_by_status) == {s.value for s in InvoiceStatus}
        assert figures.po_exceptions_open == 1
        assert figures.disputes_by_status["open"] == 1
        assert figures.disputes_by_status["waiting_on_customer"] == 1
        assert figures.disputes_by_status["remedy_proposed"] == 0
        assert figures.disputes_sla_breached == 1
        assert figures.accounting_sync_failing_invoices == 2
        assert figures.accounting_sync_lag_s == 3 * 3600
        assert figures.accounting_refused_documents == 0
    finally:
        await engine.dispose()


async def test_no_failing_post_is_no_lag(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with transaction(session_factory(engine), writes=False) as session:
            figures = await ops_gauges.read(session, NOW)
        assert figures.accounting_sync_lag_s == 0
        assert figures.accounting_sync_failing_invoices == 0
        assert sum(figures.invoices_by_status.values()) == 0
    finally:
        await engine.dispose()
