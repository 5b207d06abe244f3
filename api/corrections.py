"""A correction (``PUT /invoices/{id}/lines``) is checked as a creation is, before the
invoice process is asked: lines that ``POST /invoices`` refuses with a 422 are refused here
with the same 422 and code, instead of being accepted and refused later in the process."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Unprocessable
from domain.errors import InvoiceRuleError
from domain.invoicing import BillableItem, ExplicitLine, generate_invoice
from schemas.tables import Invoice
from store import parties


async def check_correction(
    session: AsyncSession, invoice_id: str, items: list[BillableItem], lines: list[ExplicitLine]
) -> None:
    """Refuse (422, the creation's codes) lines the invoice's contract would not generate.

    An invoice not stored yet is left to its process to answer (404, 409). The contract's
    cap is checked again, under its lock, when the correction is applied.
    """
    if not items and not lines:
        raise Unprocessable("an invoice needs at least one item or line", code="empty_invoice")
    try:
        invoice = await session.get(Invoice, invoice_id)
        if invoice is None or invoice.issue_date is None:
            return
        contract = await parties.get_contract(session, invoice.contract_id)
        if contract is None:
            return
        terms = await parties.terms_of(session, contract, excluding_invoice_id=invoice_id)
        try:
            generate_invoice(
                terms,
                items=items,
                explicit_lines=lines,
                issue_date=invoice.issue_date,
                currency=invoice.currency,
            )
        except InvoiceRuleError as rule:
            raise Unprocessable(rule.detail, code=rule.code) from rule
    finally:
        if session.in_transaction():  # hold no read transaction while talking to Temporal
            await session.commit()
