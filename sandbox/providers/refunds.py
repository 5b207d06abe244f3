"""The payment provider's refunds: money paid through a payment link, given back.

A refund is against one payment (``pay_...``), in that payment's currency, and never for
more than what is left of it after earlier refunds (422, as an over-payment is; not 409,
which our clients retry). It goes through the same gate as every payments call: bearer
auth, Idempotency-Key, injected faults, replays.

No webhook is sent for a refund: it succeeds synchronously, so the caller has its answer,
and InvoiceFlow's payments webhook reads every event as a ``payment.succeeded`` body (a
refund event would be refused and redelivered for days).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from sandbox.context import SandboxContext, SandboxDep
from sandbox.gate import Effect, ProviderReject
from sandbox.providers import new_id
from sandbox.providers.payments import API, PAYMENT
from sandbox.state import Tx

# Stored with the payment's id as the record's reference: a payment's refunds are one lookup.
REFUND = "payment_refund"

router = APIRouter(prefix="/payments/v1/payments", tags=["payments"])

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class RefundCreate(BaseModel):
    amount_minor: int = Field(gt=0)
    currency: Currency
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    # The caller's own id for what the refund is for (ours: the credit note), listed back.
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


def refunded_minor(tx: Tx, payment_id: str) -> int:
    return sum(refund["amount_minor"] for refund in tx.list(REFUND, payment_id))


def refund_payment(payment_id: str) -> Callable[[Tx, RefundCreate], Effect]:
    def effect(tx: Tx, req: RefundCreate) -> Effect:
        payment = tx.get(PAYMENT, payment_id)
        if payment is None:
            raise ProviderReject(404, f"No payment {payment_id}")
        if req.currency != payment["currency"]:
            raise ProviderReject(
                422, f"currency {req.currency} differs from the payment's {payment['currency']}"
            )
        refundable = payment["amount_minor"] - refunded_minor(tx, payment_id)
        if req.amount_minor > refundable:
            raise ProviderReject(
                422,
                f"amount_minor {req.amount_minor} exceeds what is left refundable on payment"
                f" {payment_id}: {refundable}",
            )
        refund = {
            "id": new_id("re"),
            "payment_id": payment_id,
            "link_id": payment["link_id"],
            "payment_reference": payment["reference"],
            "amount_minor": req.amount_minor,
            "currency": req.currency,
            "reason": req.reason,
            "reference": req.reference,
            "status": "succeeded",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        tx.insert(REFUND, refund["id"], payment_id, refund)
        return Effect(201, refund)

    return effect


def _refunds_or_404(sandbox: SandboxContext, payment_id: str) -> list[dict[str, Any]]:
    if sandbox.store.record(PAYMENT, payment_id) is None:
        raise ProviderReject(404, f"No payment {payment_id}")
    return sandbox.store.records(REFUND, payment_id)


@router.post("/{payment_id}/refunds", status_code=201)
async def post_refund(request: Request, sandbox: SandboxDep, payment_id: str) -> JSONResponse:
    """Body: {"amount_minor", "currency", "reason", "reference"?}. Partial refunds add up
    to the payment's amount; more is 422, an unknown payment 404."""
    return await sandbox.gate.post(request, API, RefundCreate, refund_payment(payment_id))


@router.get("/{payment_id}/refunds")
async def list_refunds(request: Request, sandbox: SandboxDep, payment_id: str) -> JSONResponse:
    """The payment's refunds, oldest first."""
    return await sandbox.gate.get(request, API, lambda: _refunds_or_404(sandbox, payment_id))
