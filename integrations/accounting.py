"""Client for the accounting system: issued invoices, the payments received against them,
and the credit notes and write-offs that dispute remedies take off them.

The models mirror the provider's request bodies. ``reference`` is always our id (invoice id,
payment id, credit note id, write-off id) so the ledger can be reconciled with our records
without storing its ids.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
from pydantic import AwareDatetime, BaseModel, Field

from integrations.http import post_json

PROVIDER = "accounting"


class AccountingCustomer(BaseModel):
    id: str
    name: str


class AccountingInvoiceLine(BaseModel):
    description: str
    # Decimal so "1.5 hours" survives; serialised as a string, never a float.
    quantity: Decimal
    unit_price_minor: int
    net_minor: int
    # Tax is computed per category on the invoice (the project's rounding rule), so a line
    # carries its category; the invoice's tax_lines carry the amounts.
    tax_category: str


class AccountingInvoice(BaseModel):
    reference: str
    number: str
    customer: AccountingCustomer
    currency: str
    issue_date: date
    due_date: date
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    lines: list[AccountingInvoiceLine] = Field(default_factory=list)
    tax_lines: list[dict[str, object]] = Field(default_factory=list)


class AccountingPayment(BaseModel):
    reference: str
    invoice_reference: str
    amount_minor: int
    currency: str
    paid_at: AwareDatetime


class AccountingCreditNote(BaseModel):
    reference: str
    invoice_reference: str
    number: str
    amount_minor: int
    currency: str
    reason: str
    issued_at: AwareDatetime


class AccountingWriteOff(BaseModel):
    reference: str
    invoice_reference: str
    amount_minor: int
    currency: str
    reason: str


class AccountingVoid(BaseModel):
    reference: str
    invoice_reference: str
    replaced_by_reference: str | None = None
    reason: str


class AccountingCreditAllocation(BaseModel):
    reference: str
    credit_note_reference: str
    invoice_reference: str
    amount_minor: int
    currency: str


class AccountingRef(BaseModel):
    id: str


class AccountingClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key

    async def post_invoice(
        self, *, idempotency_key: str, payload: AccountingInvoice
    ) -> AccountingRef:
        return await self._post("/accounting/v1/invoices", idempotency_key, payload)

    async def post_payment(
        self, *, idempotency_key: str, payload: AccountingPayment
    ) -> AccountingRef:
        return await self._post("/accounting/v1/payments", idempotency_key, payload)

    async def post_credit_note(
        self, *, idempotency_key: str, payload: AccountingCreditNote
    ) -> AccountingRef:
        return await self._post("/accounting/v1/credit-notes", idempotency_key, payload)

    async def post_write_off(
        self, *, idempotency_key: str, payload: AccountingWriteOff
    ) -> AccountingRef:
        return await self._post("/accounting/v1/write-offs", idempotency_key, payload)

    async def post_void(self, *, idempotency_key: str, payload: AccountingVoid) -> AccountingRef:
        return await self._post("/accounting/v1/voids", idempotency_key, payload)

    async def post_credit_allocation(
        self, *, idempotency_key: str, payload: AccountingCreditAllocation
    ) -> AccountingRef:
        return await self._post("/accounting/v1/credit-allocations", idempotency_key, payload)

    async def _post(self, path: str, idempotency_key: str, payload: BaseModel) -> AccountingRef:
        data = await post_json(
            self._http,
            provider=PROVIDER,
            url=f"{self._base_url}{path}",
            api_key=self._api_key,
            idempotency_key=idempotency_key,
            body=payload.model_dump(mode="json"),
        )
        return AccountingRef.model_validate(data)
