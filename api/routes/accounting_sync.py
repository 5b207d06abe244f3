"""`POST /invoices/{id}/resync`: post again to accounting what it should have of an invoice
(the invoice, its payments, credit notes, write-offs, void, credit allocations), looking
each one up first and creating only what is missing.

While the invoice's process runs, this is its `resync` update (its posts in flight and
those not started yet are landed now, and its `SyncStatus` follows); once it has ended
(closed, void), the `AccountingResync` workflow (``accounting-resync-{id}``) does the same
from the documents kept in the database. With the same Idempotency-Key it runs once.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, TemporalClientDep
from api.errors import ApiError, Conflict, NotFoundError
from api.idempotency import Answer, idempotent
from api.openapi import problems
from api.routes.invoice_actions import _request_id
from api.updates import invoice_update
from schemas.accounting_sync import (
    ResyncActivityInput,
    ResyncedDocument,
    ResyncRequest,
    ResyncResult,
    resync_workflow_id,
)
from schemas.invoice import InvoiceStatus
from schemas.tables import Invoice

router = APIRouter(prefix="/invoices", tags=["invoices"])

# statuses before issue: accounting holds nothing of such an invoice
_NOT_ISSUED = {
    InvoiceStatus.PENDING.value,
    InvoiceStatus.EXCEPTION.value,
    InvoiceStatus.AWAITING_APPROVAL.value,
    InvoiceStatus.CHANGES_REQUESTED.value,
    InvoiceStatus.APPROVAL_EXPIRED.value,
    InvoiceStatus.REJECTED.value,
    InvoiceStatus.CANCELLED.value,
}
_ENDED = {InvoiceStatus.CLOSED.value, InvoiceStatus.VOID.value}


class ResyncBody(BaseModel):
    requested_by: str = Field(min_length=1, max_length=200, description="the person asking")


class ResyncOut(BaseModel):
    invoice_id: str
    status: str = Field(description="synced, or refused when accounting refused a document")
    documents: list[ResyncedDocument] = Field(
        description="each document: found (accounting had it), created, or refused (why)"
    )


class ResyncFailed(ApiError):
    status, title, code = 502, "Accounting did not answer", "resync_failed"


async def _after_close(
    temporal: Client, task_queue: str, invoice_id: str, body: ResyncBody
) -> ResyncResult:
    try:
        handle = await temporal.start_workflow(
            "AccountingResync",
            ResyncActivityInput(invoice_id=invoice_id, requested_by=body.requested_by),
            id=resync_workflow_id(invoice_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            execution_timeout=timedelta(minutes=10),
            result_type=ResyncResult,
        )
        return await handle.result()
    except WorkflowFailureError as failed:
        raise ResyncFailed(
            f"accounting could not be reached to re-sync invoice {invoice_id}; try again later"
        ) from failed


@router.post(
    "/{invoice_id}/resync",
    response_model=ResyncOut,
    responses=problems(
        404,
        s409="The invoice is not issued yet: accounting has nothing of it (`not_issued`)",
        s502="Accounting did not answer in time; nothing is lost, try again (`resync_failed`)",
    ),
)
async def resync_invoice(
    invoice_id: str,
    body: ResyncBody,
    request: Request,
    session: SessionDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Post the invoice, its payments and its remedies to accounting again, each looked up
    first by its number or reference: only what accounting lacks is created. Works while
    the invoice is collected and after it closed."""
    stored = await session.get(Invoice, invoice_id)
    await session.commit()  # hold no read transaction while waiting for the workflow
    if stored is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    if stored.status in _NOT_ISSUED:
        raise Conflict(
            f"the invoice is not issued (it is {stored.status}): accounting has nothing of it",
            code="not_issued",
        )

    async def produce() -> Answer:
        request_id = _request_id(api_key.id, invoice_id, idempotency_key, "resync")
        result: ResyncResult | None = None
        if stored.status not in _ENDED:
            try:
                result = await invoice_update(
                    temporal,
                    invoice_id,
                    "resync",
                    ResyncRequest(request_id=request_id, requested_by=body.requested_by),
                    ResyncResult,
                    update_id=request_id,
                )
            except NotFoundError:
                result = None  # ended meanwhile: the re-sync of an ended process
            except Conflict as refused:
                if refused.code != "refused":
                    raise
                raise ResyncFailed(str(refused)) from refused
        if result is None:
            try:
                result = await _after_close(
                    temporal, request.app.state.settings.task_queue, invoice_id, body
                )
            except RPCError as err:
                raise ResyncFailed(str(err)) from err
        out = ResyncOut(
            invoice_id=invoice_id, status=result.status.value, documents=result.documents
        )
        return Answer(200, out.model_dump(mode="json"))

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )
