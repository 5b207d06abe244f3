"""Invoices and disputes written straight to a test database, through the dispute store's
own writes (`store.disputes`), so tests read back what activities would have written; and
the API app in process (`dispute_api`) to read them through."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from integrations.evidence_storage import FileEvidenceStorage
from schemas.dispute_tables import DisputeRow
from schemas.ids import new_id
from schemas.tables import Invoice
from store import api_keys, disputes
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract

OPENED = datetime(2026, 12, 1, 9, tzinfo=UTC)


@dataclass(frozen=True)
class SeededInvoice:
    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    total_minor: int


async def seed_invoice(
    sessions: SessionFactory,
    *,
    total_minor: int = 120_000,
    paid_minor: int = 0,
    currency: str = "GBP",
    customer_name: str = "Northwind Traders Ltd",
) -> SeededInvoice:
    customer, contract = await customer_and_contract(
        sessions, customer_name=customer_name, currency=currency
    )
    invoice_id = new_id("inv")
    number = f"INV-2026-{uuid.uuid4().hex[:10].upper()}"
    now = datetime.now(UTC)
    async with transaction(sessions) as session:
        session.add(
            Invoice(
                id=invoice_id,
                customer_id=customer.id,
                contract_id=contract.id,
                number=number,
                status="ISSUED",
                currency=currency,
                tax_region="GB",
                issue_date=date(2026, 11, 30),
                due_date=date(2026, 12, 30),
                subtotal_minor=total_minor * 5 // 6,
                tax_minor=total_minor - total_minor * 5 // 6,
                total_minor=total_minor,
                paid_minor=paid_minor,
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )
    return SeededInvoice(invoice_id, number, customer.id, customer.name, total_minor)


def intake(invoice: SeededInvoice, **overrides: Any) -> dict[str, Any]:
    """Arguments of `store.disputes.insert_dispute` for the invoice."""
    values: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "invoice_id": invoice.invoice_id,
        "customer_id": invoice.customer_id,
        "currency": "GBP",
        "reason": "pricing",
        "description": "Line 1 is billed at 130.00 an hour; the contract says 120.00.",
        "lines": [1],
        "amount_minor": 38_400,
        "level": 1,
        "channel": "portal",
        "opened_by": "customer",
        "opened_at": OPENED,
    }
    values.update(overrides)
    return values


async def seed_dispute(
    sessions: SessionFactory, invoice: SeededInvoice, *, intake_fields: Any = None, **fields: Any
) -> DisputeRow:
    """A dispute opened through `insert_dispute`, then moved with `update_dispute`."""
    async with transaction(sessions) as session:
        row, _ = await disputes.insert_dispute(session, **intake(invoice, **(intake_fields or {})))
        if fields:
            updated = await disputes.update_dispute(session, row.id, **fields)
            assert updated is not None
            row = updated
    return row


@dataclass
class Api:
    client: httpx.AsyncClient  # authenticated with a fresh API key
    sessions: SessionFactory
    storage: FileEvidenceStorage  # the app's evidence store


@contextlib.asynccontextmanager
async def dispute_api(temporal: Client, db_url: str, evidence_dir: Path) -> AsyncIterator[Api]:
    """The API app served in process (its lifespan run), on the database and evidence
    folder given."""
    settings = Settings(environment="test", database_url=db_url, evidence_dir=str(evidence_dir))
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        _, key = await api_keys.create(session, "dispute-reader")
    app = create_app(settings, temporal=temporal)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://app",
                headers={"Authorization": f"Bearer {key}"},
            ) as client,
        ):
            yield Api(client, sessions, FileEvidenceStorage(evidence_dir))
    finally:
        await engine.dispose()
