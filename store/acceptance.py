"""The invoice the API has accepted, stored as PENDING until its process generates it.

An upstream app that reads the invoice (or lists its invoices) right after the 202 finds
it, with the previewed totals, instead of a 404 or a gap in the list. The row is written
after the process was started and only if absent: the process may already have stored the
generated invoice, and the generation step completes a PENDING row it finds
(``store.invoices.create_invoice``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.invoice import InvoiceStatus
from schemas.tables import Invoice
from store import audit
from store.db import begin_write, insert_if_absent


async def record_accepted(
    session: AsyncSession,
    *,
    invoice_id: str,
    customer_id: str,
    contract_id: str,
    currency: str,
    tax_region: str,
    po_number: str | None,
    issue_date: date,
    due_date: date,
    subtotal_minor: int,
    tax_minor: int,
    total_minor: int,
    accepted_by: str,
) -> None:
    await begin_write(session)
    now = datetime.now(UTC)
    new = await insert_if_absent(
        session,
        Invoice,
        id=invoice_id,
        customer_id=customer_id,
        contract_id=contract_id,
        status=InvoiceStatus.PENDING.value,
        currency=currency,
        tax_region=tax_region,
        po_number=po_number,
        issue_date=issue_date,
        due_date=due_date,
        subtotal_minor=subtotal_minor,
        tax_minor=tax_minor,
        total_minor=total_minor,
        paid_minor=0,
        tax_lines=[],
        created_by=accepted_by,
        created_at=now,
        updated_at=now,
    )
    if new:
        await audit.record(
            session,
            step_key=f"{invoice_id}:accepted",
            invoice_id=invoice_id,
            entity="invoice",
            action="invoice.accepted",
            actor=accepted_by,
            data={"total_minor": total_minor, "currency": currency},
            at=now,
        )
    await session.commit()
