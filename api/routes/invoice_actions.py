"""What a person does to one invoice through an upstream app: cancel it before it is
issued, send its e-mail again. Each is an update of the invoice process (so operations can
do the same from the Temporal UI), idempotent per request and audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, TemporalClientDep
from api.errors import ApiError, Conflict
from api.idempotency import Answer, idempotent
from api.openapi import problems
from api.updates import invoice_update
from schemas.api import EMAIL_PATTERN
from schemas.ids import idempotent_id, new_id
from schemas.invoice import (
    CancelInvoiceInput,
    CancelInvoiceResult,
    InvoiceStatus,
    ResendInvoiceInput,
    ResendInvoiceResult,
)
from schemas.tables import Invoice

router = APIRouter(prefix="/invoices", tags=["invoices"])


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="kept in the audit trail")
    cancelled_by: str = Field(min_length=1, max_length=200, description="the person cancelling")


class ResendBody(BaseModel):
    requested_by: str = Field(min_length=1, max_length=200, description="the person asking")
    to: str | None = Field(
        default=None, pattern=EMAIL_PATTERN, max_length=320, description="another address"
    )


class CancelOut(BaseModel):
    invoice_id: str
    status: str


class ResendOut(BaseModel):
    invoice_id: str
    delivery_id: str
    recipient: str


def _request_id(api_key_id: str, invoice_id: str, key: str | None, action: str) -> str:
    """One id per request: from the Idempotency-Key when given, so a repeat is the same
    Temporal update (sent once), else a fresh one."""
    if key:
        return idempotent_id(action, api_key_id, f"{invoice_id}:{key}")
    return new_id(action)


def _ended(
    session: SessionDep, invoice_id: str, action: str
) -> Callable[[], Awaitable[ApiError | None]]:
    """The refusal for an invoice whose process has finished (closed, cancelled, rejected)."""

    async def refusal() -> ApiError | None:
        stored = await session.get(Invoice, invoice_id)
        await session.commit()
        if stored is None:
            return None
        if action == "cancel" and stored.status == InvoiceStatus.CANCELLED.value:
            return Conflict("the invoice is already cancelled", code="already_cancelled")
        code = "not_cancellable" if action == "cancel" else "not_resendable"
        return Conflict(f"the invoice's process has ended (it is {stored.status})", code=code)

    return refusal


@router.post(
    "/{invoice_id}/cancel",
    response_model=CancelOut,
    responses=problems(
        s409="Not cancellable: already issued (`not_cancellable`) or cancelled"
        " (`already_cancelled`)"
    ),
)
async def cancel_invoice(
    invoice_id: str,
    body: CancelBody,
    request: Request,
    session: SessionDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Cancel an invoice that is not issued yet (waiting for approval, a correction or an
    operator). It keeps its number, owes nothing, and its approval links stop working."""

    async def produce() -> Answer:
        result = await invoice_update(
            temporal,
            invoice_id,
            "cancel",
            CancelInvoiceInput(reason=body.reason, cancelled_by=body.cancelled_by),
            CancelInvoiceResult,
            update_id=_request_id(api_key.id, invoice_id, idempotency_key, "cancel"),
            ended=_ended(session, invoice_id, "cancel"),
        )
        out = CancelOut(invoice_id=invoice_id, status=result.status.value)
        return Answer(200, out.model_dump(mode="json"))

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.post(
    "/{invoice_id}/resend",
    response_model=ResendOut,
    responses=problems(
        s409="Not an issued, unpaid invoice (`not_resendable`)",
        s502="The mailbox refused the e-mail (`resend_failed`)",
    ),
)
async def resend_invoice(
    invoice_id: str,
    body: ResendBody,
    request: Request,
    session: SessionDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """E-mail an issued invoice again, with its payment and view links, to the customer or
    to another address. With the same Idempotency-Key it is sent once."""

    async def produce() -> Answer:
        request_id = _request_id(api_key.id, invoice_id, idempotency_key, "resend")
        result = await invoice_update(
            temporal,
            invoice_id,
            "resend",
            ResendInvoiceInput(request_id=request_id, requested_by=body.requested_by, to=body.to),
            ResendInvoiceResult,
            update_id=request_id,
            ended=_ended(session, invoice_id, "resend"),
        )
        out = ResendOut(
            invoice_id=invoice_id, delivery_id=result.delivery_id, recipient=result.recipient
        )
        return Answer(200, out.model_dump(mode="json"))

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )
