"""Client for the accounting system: issued invoices, the payments received against them,
the credit notes and write-offs that dispute remedies take off them, and customer credit
(a credit note's, or an overpaid payment's) allocated to a later invoice or refunded.

The models mirror the provider's request bodies. ``reference`` is always our id (invoice id,
payment id, credit note id, write-off id) so the ledger can be reconciled with our records
without storing its ids.

Every create can look the document up first by its natural key (``LOOK_UP_FIRST``, set by
the activities on a retry, a resumed post or a re-sync): an invoice or credit note by its
number, anything else by its reference. A provider keeps an Idempotency-Key for a while
only (Stripe 24 hours), and a re-sync days later may repeat a post whose answer was lost:
the look-up is what keeps the ledger to one document. A first attempt skips it (see
``activities.accounting``). Each post also leaves what it sent in ``TRACE``, so the caller
can keep it for a later re-sync without knowing each document's shape.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from pydantic import AwareDatetime, BaseModel, Field

from integrations.errors import ProviderError
from integrations.http import get_json, post_json

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
    """Customer credit allocated to a later invoice: from a credit note, or from what a
    payment brought beyond its own invoice (`payment_reference`); exactly one of the two."""

    reference: str
    credit_note_reference: str | None = None
    payment_reference: str | None = None
    invoice_reference: str
    amount_minor: int
    currency: str


class AccountingRefund(BaseModel):
    """Customer credit paid back out: a credit note's, or an overpaid payment's."""

    reference: str
    credit_note_reference: str | None = None
    payment_reference: str | None = None
    amount_minor: int
    currency: str
    reason: str


class AccountingRef(BaseModel):
    id: str
    # True when the document was already in the ledger (a look-up found it)
    found: bool = False


# the natural key a ledger finds each kind of document by: (query parameter, body field)
NATURAL_KEYS: dict[str, tuple[str, str]] = {
    "/accounting/v1/invoices": ("number", "number"),
    "/accounting/v1/credit-notes": ("number", "number"),
    "/accounting/v1/payments": ("reference", "reference"),
    "/accounting/v1/write-offs": ("reference", "reference"),
    "/accounting/v1/voids": ("reference", "reference"),
    "/accounting/v1/credit-allocations": ("reference", "reference"),
    "/accounting/v1/refunds": ("reference", "reference"),
}


@dataclass
class PostTrace:
    """One post as it went out: whether to look up first, and what was sent."""

    look_up_first: bool = False
    path: str | None = None
    idempotency_key: str | None = None
    body: dict[str, Any] | None = None


TRACE: ContextVar[PostTrace | None] = ContextVar("accounting_post_trace", default=None)


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
        # a credit note's allocation goes out as it always has (no `payment_reference`)
        body = payload.model_dump(mode="json", exclude_none=True)
        return await self.create("/accounting/v1/credit-allocations", idempotency_key, body)

    async def post_refund(
        self, *, idempotency_key: str, payload: AccountingRefund
    ) -> AccountingRef:
        body = payload.model_dump(mode="json", exclude_none=True)
        return await self.create("/accounting/v1/refunds", idempotency_key, body)

    async def find(self, path: str, body: dict[str, Any]) -> AccountingRef | None:
        """The ledger's document for `body` by its natural key, or None. A document with
        the same number but another reference is someone else's: refused, never adopted."""
        param, field = NATURAL_KEYS[path]
        found = await get_json(
            self._http,
            provider=PROVIDER,
            url=f"{self._base_url}{path}",
            api_key=self._api_key,
            params={param: str(body[field])},
        )
        if not isinstance(found, list):
            raise ProviderError(PROVIDER, 200, "look-up answer is not a list", retryable=True)
        for document in found:
            if document.get("reference") == body.get("reference"):
                return AccountingRef(id=str(document["id"]), found=True)
        if found:
            raise ProviderError(
                PROVIDER,
                422,
                f"{field} {body[field]} belongs to another document in the ledger",
                retryable=False,
            )
        return None

    async def create(self, path: str, idempotency_key: str, body: dict[str, Any]) -> AccountingRef:
        """Create the document (looked up first when `TRACE` asks for it)."""
        trace = TRACE.get()
        if trace is not None:
            trace.path, trace.idempotency_key, trace.body = path, idempotency_key, body
            if trace.look_up_first and (ref := await self.find(path, body)) is not None:
                return ref
        data = await post_json(
            self._http,
            provider=PROVIDER,
            url=f"{self._base_url}{path}",
            api_key=self._api_key,
            idempotency_key=idempotency_key,
            body=body,
        )
        return AccountingRef.model_validate(data)

    async def _post(self, path: str, idempotency_key: str, payload: BaseModel) -> AccountingRef:
        return await self.create(path, idempotency_key, payload.model_dump(mode="json"))
