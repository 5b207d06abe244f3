"""The accounting system: receives issued invoices and the payments against them.

It checks what a real ledger would refuse, so our bugs surface here rather than in
production: totals that do not add up, and payments for invoices it has never seen or in
another currency (all 422, not retryable).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from sandbox.context import SandboxDep
from sandbox.gate import Effect, ProviderReject
from sandbox.providers import new_id
from sandbox.state import Tx

API = "accounting"
INVOICE = "accounting_invoice"
PAYMENT = "accounting_payment"

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


@router.post("/invoices", status_code=201)
async def post_invoice(request: Request, sandbox: SandboxDep) -> JSONResponse:
    return await sandbox.gate.post(request, API, InvoiceCreate, create_invoice)


@router.get("/invoices")
async def list_invoices(
    request: Request, sandbox: SandboxDep, reference: str | None = None
) -> JSONResponse:
    return await sandbox.gate.get(request, API, lambda: sandbox.store.records(INVOICE, reference))


@router.post("/payments", status_code=201)
async def post_payment(request: Request, sandbox: SandboxDep) -> JSONResponse:
    return await sandbox.gate.post(request, API, PaymentCreate, create_payment)


@router.get("/payments")
async def list_payments(
    request: Request, sandbox: SandboxDep, reference: str | None = None
) -> JSONResponse:
    return await sandbox.gate.get(request, API, lambda: sandbox.store.records(PAYMENT, reference))
