"""Customers and contracts: master data written by the API, read by activities."""

from __future__ import annotations

from collections import OrderedDict

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


async def customer_and_contract(
    session: AsyncSession, customer_id: str, contract_id: str
) -> tuple[Customer | None, Contract | None]:
    """Both in one round trip when the contract is the customer's (the usual case); else
    each on its own, so the caller can say which one is missing or mismatched."""
    row = (
        await session.exec(
            select(Customer, Contract)
            .join(Contract, col(Contract.customer_id) == col(Customer.id))
            .where(Customer.id == customer_id, Contract.id == contract_id)
        )
    ).first()
    if row is not None:
        return row[0], row[1]
    return await get_customer(session, customer_id), await get_contract(session, contract_id)


class PartiesCache:
    """Customer and contract pairs a process has read, kept for its lifetime.

    Safe because both are write-once: nothing updates or deletes them (a changed contract
    is a new contract), so a kept pair can never be stale. Only found pairs whose contract
    belongs to the customer are kept, so every error answer is read fresh, and a customer
    created a moment after a 422 is found at once. The API's invoice start then reads
    nothing from the database unless the contract has a cap (the sum invoiced so far).
    Bounded: the least recently used pair goes first.
    """

    def __init__(self, max_pairs: int = 10_000) -> None:
        self._pairs: OrderedDict[tuple[str, str], tuple[Customer, Contract]] = OrderedDict()
        self._max_pairs = max_pairs

    async def customer_and_contract(
        self, session: AsyncSession, customer_id: str, contract_id: str
    ) -> tuple[Customer | None, Contract | None]:
        key = (customer_id, contract_id)
        kept = self._pairs.get(key)
        if kept is not None:
            self._pairs.move_to_end(key)
            return kept
        customer, contract = await customer_and_contract(session, customer_id, contract_id)
        if customer is not None and contract is not None and contract.customer_id == customer.id:
            session.expunge(customer)  # detached: a later commit or rollback cannot expire it
            session.expunge(contract)
            self._pairs[key] = (customer, contract)
            if len(self._pairs) > self._max_pairs:
                self._pairs.popitem(last=False)
        return customer, contract


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


async def terms_of(
    session: AsyncSession, contract: Contract, excluding_invoice_id: str | None = None
) -> ContractTerms:
    """The contract's terms; the sum invoiced so far is read only if a cap needs it."""
    invoiced = (
        await already_invoiced_minor(session, contract.id, excluding_invoice_id)
        if contract.cap_minor is not None
        else 0
    )
    return contract_terms(contract, invoiced)


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
