"""`POST /customers/{customer_id}/credit/{credit_id}/refund`: give what is left of a
customer credit back through the payment provider, on request (the customer asked for
their money instead of keeping it on account).

It starts the `CreditRefund` workflow (``credit-refund-{credit_id}-{refund_id}``, the
refund id from the Idempotency-Key, so a repeat joins the first) and waits a few seconds
for it: 201 with the refund when the provider answered in time, else 202 with the refund
pending (the workflow retries the provider through an outage of hours; the credit's entry
in `GET /customers/{id}/credit` shows how it ended). The amount is reserved off the credit
by the workflow's first step, so an invoice issued meanwhile cannot take it too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, TemporalClientDep
from api.errors import ApiError, Conflict, NotFoundError
from api.idempotency import Answer, idempotent
from api.openapi import problems
from schemas.credit_refunds import (
    CreditRefundInput,
    CreditRefundResult,
    credit_refund_workflow_id,
)
from schemas.credit_tables import CreditRefundRow, CustomerCreditRow
from schemas.ids import idempotent_id, new_id
from schemas.remedies import RefundMade
from schemas.tables import Customer
from store import credit_refunds
from store.db import transaction

router = APIRouter(tags=["customers and contracts"])

# how long the request waits for the provider before answering 202 (pending)
ANSWER_WITHIN_S = 10.0


class CreditRefundBody(BaseModel):
    requested_by: str = Field(min_length=1, max_length=200, description="the person asking")
    reason: str = Field(min_length=1, max_length=500, description="why, for the audit trail")


class CreditRefundOut(BaseModel):
    refund_id: str
    credit_id: str
    status: str = Field(description="refunded, or pending while the provider is retried")
    amount_minor: int = Field(description="what is refunded: what was left of the credit")
    currency: str
    refunds: list[RefundMade] = Field(
        default_factory=list, description="the provider's refunds (one per payment)"
    )


class RefundFailed(ApiError):
    status, title, code = 502, "The payment provider refused the refund", "refund_failed"


async def _start(
    temporal: Client, task_queue: str, data: CreditRefundInput
) -> WorkflowHandle[Any, CreditRefundResult]:
    workflow_id = credit_refund_workflow_id(data.credit_id, data.refund_id)
    try:
        return await temporal.start_workflow(
            "CreditRefund",
            data,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            result_type=CreditRefundResult,
            static_summary=f"Refund of customer credit {data.credit_id}",
        )
    except WorkflowAlreadyStartedError:  # it ran to its end already: its answer stands
        return temporal.get_workflow_handle(workflow_id, result_type=CreditRefundResult)


@router.post(
    "/customers/{customer_id}/credit/{credit_id}/refund",
    status_code=201,
    response_model=CreditRefundOut,
    responses={
        202: {"model": CreditRefundOut, "description": "Asked of the provider, still pending"},
        **problems(
            404,
            s409="Nothing is left of the credit (`nothing_to_refund`), or no payment stands"
            " behind it, e.g. its invoice was paid with account credit"
            " (`credit_not_refundable`)",
            s502="The payment provider refused the refund; the credit is kept (`refund_failed`)",
        ),
    },
)
async def refund_credit(
    customer_id: str,
    credit_id: str,
    body: CreditRefundBody,
    request: Request,
    session: SessionDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Refund what is left of a customer credit to the payment it came from (an
    overpayment's to the payment that brought it, a credit note's to its invoice's
    payments), once per Idempotency-Key; posted to accounting once."""
    sessions = request.app.state.sessions
    settings = request.app.state.settings

    async def produce() -> Answer:
        async with transaction(sessions, writes=False) as reading:
            if await reading.get(Customer, customer_id) is None:
                raise NotFoundError(
                    f"customer {customer_id} does not exist", code="unknown_customer"
                )
            credit = await reading.get(CustomerCreditRow, credit_id)
            if credit is None or credit.customer_id != customer_id:
                raise NotFoundError(
                    f"customer {customer_id} has no credit {credit_id}", code="unknown_credit"
                )
            payment_ids, _ = await credit_refunds.refundable_payments(reading, credit)
        if credit.remaining_minor <= 0:
            raise Conflict(f"credit {credit_id} has nothing left", code="nothing_to_refund")
        if not payment_ids:
            raise Conflict(
                f"credit {credit_id} came from no payment that can be refunded",
                code="credit_not_refundable",
            )
        refund_id = (
            idempotent_id("crf", api_key.id, f"{credit_id}:{idempotency_key}")
            if idempotency_key
            else new_id("crf")
        )
        data = CreditRefundInput(
            refund_id=refund_id,
            credit_id=credit_id,
            customer_id=customer_id,
            requested_by=body.requested_by,
            reason=body.reason,
        )
        handle = await _start(temporal, settings.task_queue, data)
        try:
            result = await asyncio.wait_for(handle.result(), ANSWER_WITHIN_S)
        except TimeoutError:
            return await _pending(sessions, customer_id, data)
        if result.status == "refused":
            raise Conflict(result.detail or "nothing to refund", code=result.code or "conflict")
        if result.status == "failed":
            raise RefundFailed(result.detail or "the payment provider refused the refund")
        out = CreditRefundOut(
            refund_id=result.refund_id,
            credit_id=credit_id,
            status=result.status,
            amount_minor=result.amount_minor,
            currency=result.currency,
            refunds=result.refunds,
        )
        return Answer(201, out.model_dump(mode="json"), _location(customer_id))

    await session.commit()  # hold no read transaction while the workflow runs
    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


def _location(customer_id: str) -> str:
    return f"/customers/{customer_id}/credit"


async def _pending(sessions: Any, customer_id: str, data: CreditRefundInput) -> Answer:
    """The provider has not answered yet: what the workflow reserved, if it got that far."""
    async with transaction(sessions, writes=False) as reading:
        row = await reading.get(CreditRefundRow, data.refund_id)
        credit = await reading.get(CustomerCreditRow, data.credit_id)
    assert credit is not None
    out = CreditRefundOut(
        refund_id=data.refund_id,
        credit_id=data.credit_id,
        status="pending",
        amount_minor=row.amount_minor if row is not None else credit.remaining_minor,
        currency=credit.currency,
    )
    return Answer(202, out.model_dump(mode="json"), _location(customer_id))
