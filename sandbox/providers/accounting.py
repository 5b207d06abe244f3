"""The accounting system: receives issued invoices, the payments against them, the
credit notes and small-balance write-offs that dispute remedies take off them, voids, and
customer credit (a credit note's, or what a payment brought beyond its invoice) allocated
to a later invoice or refunded.

It checks what a real ledger would refuse, so our bugs surface here rather than in
production: totals that do not add up; payments, credit notes and write-offs for invoices
it has never seen or in another currency; credit notes and write-offs that together take
more off an invoice than its total; a credit-note number used twice; an allocation or
refund of more than a credit has left (a credit note's amount, an overpaid payment's
excess over its invoice), or in another currency (all 422, not retryable).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints, model_validator

from sandbox.context import SandboxDep
from sandbox.gate import Effect, ProviderReject
from sandbox.providers import new_id
from sandbox.state import Tx

API = "accounting"
INVOICE = "accounting_invoice"
PAYMENT = "accounting_payment"
CREDIT_NOTE = "accounting_credit_note"
WRITE_OFF = "accounting_write_off"
VOID = "accounting_void"
ALLOCATION = "accounting_credit_allocation"
REFUND = "accounting_refund"

router = APIRouter(prefix="/accounting/v1", tags=["accounting"])

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class Customer(BaseModel):
    id: NonEmpty
    name: str


class InvoiceCreate(BaseModel):
    reference: NonEmpty
    number: NonEmpty
    customer: Customer
    currency: Currency
    issue_date: date
    due_date: date
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    # Line and tax-line shapes belong to the caller; the ledger only keeps them.
    lines: list[dict[str, Any]] = Field(default_factory=list)
    tax_lines: list[dict[str, Any]] = Field(default_factory=list)


class PaymentCreate(BaseModel):
    reference: NonEmpty
    invoice_reference: NonEmpty
    amount_minor: int = Field(gt=0)
    currency: Currency
    paid_at: datetime


class CreditNoteCreate(BaseModel):
    reference: NonEmpty
    invoice_reference: NonEmpty
    number: NonEmpty
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: NonEmpty
    issued_at: datetime


class WriteOffCreate(BaseModel):
    reference: NonEmpty
    invoice_reference: NonEmpty
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: NonEmpty


class VoidCreate(BaseModel):
    """An issued invoice voided (its number kept) and replaced by a corrected one."""

    reference: NonEmpty
    invoice_reference: NonEmpty
    replaced_by_reference: str | None = None
    reason: NonEmpty


class _FromCredit(BaseModel):
    """Customer credit drawn on: a credit note's, or what a payment brought beyond its
    invoice's balance (an overpayment); exactly one of the two references."""

    credit_note_reference: str | None = Field(default=None, min_length=1)
    payment_reference: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> _FromCredit:
        if (self.credit_note_reference is None) == (self.payment_reference is None):
            raise ValueError("name either credit_note_reference or payment_reference")
        return self


class AllocationCreate(_FromCredit):
    """Part of a customer credit allocated to another invoice."""

    reference: NonEmpty
    invoice_reference: NonEmpty
    amount_minor: int = Field(gt=0)
    currency: Currency


class RefundCreate(_FromCredit):
    """Part of a customer credit paid back to the customer."""

    reference: NonEmpty
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: NonEmpty


def create_invoice(tx: Tx, req: InvoiceCreate) -> Effect:
    if req.subtotal_minor + req.tax_minor != req.total_minor:
        raise ProviderReject(422, "subtotal_minor + tax_minor must equal total_minor")
    invoice = {"id": new_id("acc_inv"), **req.model_dump(mode="json")}
    tx.insert(INVOICE, invoice["id"], req.reference, invoice)
    return Effect(201, invoice)


def create_payment(tx: Tx, req: PaymentCreate) -> Effect:
    invoices = tx.list(INVOICE, req.invoice_reference)
    if not invoices:
        raise ProviderReject(422, f"No invoice with reference {req.invoice_reference}")
    if invoices[0]["currency"] != req.currency:
        raise ProviderReject(422, "Payment currency differs from the invoice currency")
    payment = {"id": new_id("acc_pay"), **req.model_dump(mode="json")}
    tx.insert(PAYMENT, payment["id"], req.reference, payment)
    return Effect(201, payment)


def _reduce_invoice(tx: Tx, invoice_reference: str, currency: str, amount_minor: int) -> None:
    """Refuse a credit or write-off the ledger cannot take off this invoice."""
    invoices = tx.list(INVOICE, invoice_reference)
    if not invoices:
        raise ProviderReject(422, f"No invoice with reference {invoice_reference}")
    invoice = invoices[0]
    if invoice["currency"] != currency:
        raise ProviderReject(422, f"Currency {currency} differs from the invoice currency")
    taken = sum(
        entry["amount_minor"]
        for kind in (CREDIT_NOTE, WRITE_OFF)
        for entry in tx.list(kind)
        if entry["invoice_reference"] == invoice_reference
    )
    left = invoice["total_minor"] - taken
    if amount_minor > left:
        raise ProviderReject(
            422,
            f"amount_minor {amount_minor} exceeds what is left to credit or write off on"
            f" invoice {invoice_reference}: {left}",
        )


def create_credit_note(tx: Tx, req: CreditNoteCreate) -> Effect:
    _reduce_invoice(tx, req.invoice_reference, req.currency, req.amount_minor)
    if any(note["number"] == req.number for note in tx.list(CREDIT_NOTE)):
        raise ProviderReject(422, f"Credit note number {req.number} is already used")
    note = {"id": new_id("acc_cn"), **req.model_dump(mode="json")}
    tx.insert(CREDIT_NOTE, note["id"], req.reference, note)
    return Effect(201, note)


def create_void(tx: Tx, req: VoidCreate) -> Effect:
    """Void an invoice the ledger holds; one with payments or credits is refused (the
    ledger would have to reverse them: that is a credit note's job)."""
    if not tx.list(INVOICE, req.invoice_reference):
        raise ProviderReject(422, f"No invoice with reference {req.invoice_reference}")
    if any(v["invoice_reference"] == req.invoice_reference for v in tx.list(VOID)):
        raise ProviderReject(422, f"Invoice {req.invoice_reference} is already void")
    for kind in (PAYMENT, CREDIT_NOTE, WRITE_OFF):
        if any(e["invoice_reference"] == req.invoice_reference for e in tx.list(kind)):
            raise ProviderReject(
                422, f"Invoice {req.invoice_reference} has payments or credits: not voidable"
            )
    void = {"id": new_id("acc_void"), **req.model_dump(mode="json")}
    tx.insert(VOID, void["id"], req.reference, void)
    return Effect(201, void)


def _drawn(tx: Tx, field: str, reference: str) -> int:
    """What allocations and refunds have drawn on one credit so far."""
    return sum(
        entry["amount_minor"]
        for kind in (ALLOCATION, REFUND)
        for entry in tx.list(kind)
        if entry.get(field) == reference
    )


def _overpaid(tx: Tx, payment: dict[str, Any]) -> int:
    """What a payment brought beyond its invoice's balance: the invoice's payments less
    what it came to after its credit notes and write-offs, at most the payment itself."""
    [invoice] = tx.list(INVOICE, payment["invoice_reference"])
    reference = invoice["reference"]
    taken_off = sum(
        entry["amount_minor"]
        for kind in (CREDIT_NOTE, WRITE_OFF)
        for entry in tx.list(kind)
        if entry["invoice_reference"] == reference
    )
    paid = sum(p["amount_minor"] for p in tx.list(PAYMENT) if p["invoice_reference"] == reference)
    return max(0, min(payment["amount_minor"], paid - (invoice["total_minor"] - taken_off)))


def _credit_left(tx: Tx, req: _FromCredit, currency: str) -> tuple[str, int]:
    """The credit drawn on (named for messages) and what it has left; unknown or in
    another currency is refused."""
    if req.credit_note_reference is not None:
        name = f"credit note {req.credit_note_reference}"
        found = tx.list(CREDIT_NOTE, req.credit_note_reference)
        field, reference = "credit_note_reference", req.credit_note_reference
    else:
        assert req.payment_reference is not None
        name = f"payment {req.payment_reference}"
        found = tx.list(PAYMENT, req.payment_reference)
        field, reference = "payment_reference", req.payment_reference
    if not found:
        raise ProviderReject(422, f"No {name}")
    if found[0]["currency"] != currency:
        raise ProviderReject(422, f"Currency {currency} differs from {name}")
    total = (
        found[0]["amount_minor"] if field == "credit_note_reference" else _overpaid(tx, found[0])
    )
    return name, total - _drawn(tx, field, reference)


def _draw(tx: Tx, req: _FromCredit, currency: str, amount_minor: int) -> None:
    name, left = _credit_left(tx, req, currency)
    if amount_minor > left:
        raise ProviderReject(
            422, f"amount_minor {amount_minor} exceeds what {name} has left as credit: {left}"
        )


def create_allocation(tx: Tx, req: AllocationCreate) -> Effect:
    invoices = tx.list(INVOICE, req.invoice_reference)
    if not invoices:
        raise ProviderReject(422, f"No invoice with reference {req.invoice_reference}")
    if req.currency != invoices[0]["currency"]:
        raise ProviderReject(422, "Allocation currency differs from the invoice")
    _draw(tx, req, req.currency, req.amount_minor)
    allocation = {"id": new_id("acc_alloc"), **req.model_dump(mode="json", exclude_none=True)}
    tx.insert(ALLOCATION, allocation["id"], req.reference, allocation)
    return Effect(201, allocation)


def create_refund(tx: Tx, req: RefundCreate) -> Effect:
    _draw(tx, req, req.currency, req.amount_minor)
    refund = {"id": new_id("acc_ref"), **req.model_dump(mode="json", exclude_none=True)}
    tx.insert(REFUND, refund["id"], req.reference, refund)
    return Effect(201, refund)


def create_write_off(tx: Tx, req: WriteOffCreate) -> Effect:
    _reduce_invoice(tx, req.invoice_reference, req.currency, req.amount_minor)
    write_off = {"id": new_id("acc_wo"), **req.model_dump(mode="json")}
    tx.insert(WRITE_OFF, write_off["id"], req.reference, write_off)
    return Effect(201, write_off)


# each kind of record: POST to record it (through the gate: faults, idempotency keys),
# GET to list what was recorded, or to look one up by its natural key as a ledger's API
# does (Xero's ``GET /Invoices?InvoiceNumbers=``): ``?reference=`` (our id) on every kind,
# ``?number=`` on invoices and credit notes. The ledger itself does not refuse a second
# invoice with the same number (QuickBooks Online by default does not either): keeping to
# one is the caller's job, which is what the look-up is for.
_KINDS: dict[str, tuple[str, type[BaseModel], Callable[[Tx, Any], Effect]]] = {
    "/invoices": (INVOICE, InvoiceCreate, create_invoice),
    "/payments": (PAYMENT, PaymentCreate, create_payment),
    "/credit-notes": (CREDIT_NOTE, CreditNoteCreate, create_credit_note),
    "/write-offs": (WRITE_OFF, WriteOffCreate, create_write_off),
    "/voids": (VOID, VoidCreate, create_void),
    "/credit-allocations": (ALLOCATION, AllocationCreate, create_allocation),
    "/refunds": (REFUND, RefundCreate, create_refund),
}


def _routes(path: str, kind: str, body: type[BaseModel], effect: Any) -> None:
    async def record(request: Request, sandbox: SandboxDep) -> JSONResponse:
        return await sandbox.gate.post(request, API, body, effect)

    async def listed(
        request: Request,
        sandbox: SandboxDep,
        reference: str | None = None,
        number: str | None = None,
    ) -> JSONResponse:
        def found() -> list[dict[str, Any]]:
            records = sandbox.store.records(kind, reference)
            return [r for r in records if number is None or r.get("number") == number]

        return await sandbox.gate.get(request, API, found)

    name = kind.removeprefix("accounting_")
    router.add_api_route(path, record, methods=["POST"], status_code=201, name=f"post_{name}")
    router.add_api_route(path, listed, methods=["GET"], name=f"list_{name}")


for _path, (_kind, _body, _effect) in _KINDS.items():
    _routes(_path, _kind, _body, _effect)
