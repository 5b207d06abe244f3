"""Customers and contracts: master data written by the API, read by activities."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.invoicing import ContractTerms, Rate
from schemas.invoice import InvoiceStatus
from schemas.tables import Contract, Customer, Invoice


async def get_customer(session: AsyncSession, customer_id: str) -> Customer | None:
    return await session.get(Customer, customer_id)


async def get_contract(session: AsyncSession, contract_id: str) -> Contract | None:
    return await session.get(Contract, contract_id)


async def already_invoiced_minor(
    session: AsyncSession, contract_id: str, excluding_invoice_id: str | None = None
) -> int:
    """Net amount invoiced so far on a contract: what its cap is measured against."""
    query = select(func.coalesce(func.sum(Invoice.subtotal_minor), 0)).where(
        Invoice.contract_id == contract_id,
        col(Invoice.number).is_not(None),
        Invoice.status != InvoiceStatus.REJECTED.value,
    )
    if excluding_invoice_id:
        query = query.where(Invoice.id != excluding_invoice_id)
    return int((await session.exec(query)).one())


def contract_terms(contract: Contract, already_invoiced: int) -> ContractTerms:
    return ContractTerms(
        contract_id=contract.id,
        currency=contract.currency,
        tax_region=contract.tax_region,
        payment_terms_days=contract.payment_terms_days,
        rates=[Rate.model_validate(rate) for rate in contract.rates],
        cap_minor=contract.cap_minor,
        valid_from=contract.valid_from,
        valid_to=contract.valid_to,
        already_invoiced_minor=already_invoiced,
    )
