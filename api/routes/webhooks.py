"""Provider webhooks. The signature is checked on the raw body before anything is parsed;
an unsigned or wrongly signed call is 401 and changes nothing."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SettingsDep, temporal_client, temporal_unavailable
from api.errors import Unauthorized, Unprocessable
from api.openapi import problems
from domain.money import MAX_MINOR
from integrations.webhook_signing import InvalidSignature, verify
from schemas.ids import invoice_workflow_id
from schemas.invoice import PaymentReceived

router = APIRouter(prefix="/webhooks", tags=["provider webhooks"])
log = structlog.get_logger()

SIGNATURE_HEADER = "Sandbox-Signature"


class PaymentEventData(BaseModel):
    payment_id: str = Field(min_length=1, max_length=200)
    link_id: str
    reference: str = Field(min_length=1, max_length=200)
    amount_minor: int = Field(gt=0, le=MAX_MINOR)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    paid_at: datetime


class PaymentEvent(BaseModel):
    id: str
    type: str
    created: int
    data: PaymentEventData


@router.post(
    "/payments",
    responses=problems(
        s401="The signature is missing, malformed, stale or wrong (`invalid_signature`)",
        s503="Temporal is away; the provider delivers the event again later",
    ),
)
async def payments_webhook(
    request: Request,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> dict[str, Any]:
    raw = await request.body()
    try:
        verify(
            settings.payments_webhook_secret.get_secret_value(), raw, signature, int(time.time())
        )
    except InvalidSignature as bad:
        log.warning("webhook.rejected", reason=bad.reason)
        raise Unauthorized(
            f"webhook signature rejected: {bad.reason}", code="invalid_signature"
        ) from bad
    try:
        event = PaymentEvent.model_validate_json(raw)
    except ValidationError as err:
        raise Unprocessable(
            f"not a payment event: {err.error_count()} problems", code="invalid_event"
        ) from err
    if event.type != "payment.succeeded":
        return {"status": "ignored", "reason": f"event type {event.type} is not handled"}

    data = event.data
    temporal = await temporal_client(request.app)  # after the signature: 401 comes first
    if temporal is None:
        raise temporal_unavailable()  # 503: the provider delivers the event again later
    handle = temporal.get_workflow_handle(invoice_workflow_id(data.reference))
    try:
        await handle.signal(
            "payment_received",
            PaymentReceived(
                payment_id=data.payment_id,
                amount_minor=data.amount_minor,
                currency=data.currency,
                paid_at=data.paid_at,
            ),
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # No running invoice process: answer 2xx so the provider stops retrying, and say so
        # loudly; operations reconcile such payments from the provider's records.
        log.error(
            "webhook.payment_unmatched", invoice_id=data.reference, payment_id=data.payment_id
        )
        return {"status": "unmatched", "event_id": event.id}
    log.info("webhook.payment_signalled", invoice_id=data.reference, payment_id=data.payment_id)
    return {"status": "accepted", "event_id": event.id}
