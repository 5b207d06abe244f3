"""Invoices: start the process, read its live state and stored record, list with filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.corrections import check_correction
from api.deps import (
    ApiKeyDep,
    IdempotencyKeyDep,
    OptionalTemporalDep,
    PartiesDep,
    SessionDep,
    SettingsDep,
    TemporalClientDep,
)
from api.errors import (
    TEMPORAL_AWAY,
    NotFoundError,
    ServiceUnavailable,
    Unprocessable,
)
from api.idempotency import Answer, idempotent
from api.live_state import live_state
from api.updates import invoice_update
from domain.errors import InvoiceRuleError
from domain.invoicing import BillableItem, ExplicitLine, generate_invoice
from domain.money import format_amount
from schemas import search_attributes as sa
from schemas.accounting_sync import SyncStatus
from schemas.api import InvoiceAccepted, InvoiceCreate, InvoiceDetail, InvoicePage, InvoicePreview
from schemas.approval import CorrectInput
from schemas.ids import idempotent_id, invoice_workflow_id, new_id
from schemas.invoice import InvoiceStatus, StartInvoiceInput
from schemas.tables import Invoice
from store import acceptance, delivery, parties, queries

log = structlog.get_logger()

router = APIRouter(prefix="/invoices", tags=["invoices"])


@router.post("", status_code=202, response_model=InvoiceAccepted)
async def create_invoice(
    body: InvoiceCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    known_parties: PartiesDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Check the request against the contract now (a clear 422 if it breaks a rule), then
    start the invoice workflow, which generates, numbers and stores the invoice."""

    async def produce() -> Answer:
        customer, contract = await known_parties.customer_and_contract(
            session, body.customer_id, body.contract_id
        )
        if customer is None:
            raise Unprocessable(
                f"customer {body.customer_id} does not exist", code="unknown_customer"
            )
        if contract is None:
            raise Unprocessable(
                f"contract {body.contract_id} does not exist", code="unknown_contract"
            )
        if contract.customer_id != customer.id:
            raise Unprocessable(
                f"contract {contract.id} belongs to another customer",
                code="contract_not_for_customer",
            )
        issue_date = body.issue_date or datetime.now(UTC).date()
        terms = await parties.terms_of(session, contract)
        if session.in_transaction():  # reads done (if any): hold no lock while talking to Temporal
            await session.commit()
        try:
            preview = generate_invoice(
                terms,
                items=body.items,
                explicit_lines=body.lines,
                issue_date=issue_date,
                currency=body.currency,
            )
        except InvoiceRuleError as rule:
            raise Unprocessable(rule.detail, code=rule.code) from rule
        if preview.due_date < datetime.now(UTC).date() and not body.allow_past_due:
            raise Unprocessable(
                f"issue date {issue_date.isoformat()} makes the invoice due on"
                f" {preview.due_date.isoformat()}, which has passed: the customer would receive"
                " an invoice that is overdue on arrival; send allow_past_due: true to issue it"
                " anyway",
                code="due_date_passed",
            )

        invoice_id = (
            idempotent_id("inv", api_key.id, idempotency_key) if idempotency_key else new_id("inv")
        )
        workflow_id = invoice_workflow_id(invoice_id)
        try:
            await temporal.start_workflow(
                "Invoice",
                StartInvoiceInput(
                    invoice_id=invoice_id,
                    customer_id=customer.id,
                    customer_name=customer.name,
                    contract_id=contract.id,
                    currency=body.currency,
                    issue_date=issue_date,
                    po_number=body.po_number,
                    external_ref=body.external_ref,
                    items=body.items,
                    lines=body.lines,
                    requested_by=api_key.name,
                    created_by=body.created_by,
                ),
                id=workflow_id,
                task_queue=settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=(
                    f"{customer.name} · {format_amount(preview.total_minor, preview.currency)}"
                    f" · due {preview.due_date.isoformat()}"
                ),
                search_attributes=sa.at_start(
                    invoice_id=invoice_id,
                    customer_id=customer.id,
                    amount_due_minor=preview.total_minor,
                    currency=preview.currency,
                ),
                rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_s),
            )
        except WorkflowAlreadyStartedError:
            # the same Idempotency-Key raced here, or an earlier try timed out after Temporal
            # had started it: that workflow is this invoice
            pass
        except RPCError as err:
            if err.status not in TEMPORAL_AWAY:
                raise
            raise ServiceUnavailable(
                "Temporal did not answer in time; the invoice may or may not have been started:"
                " send the same request with the same Idempotency-Key again, which never starts"
                " a second one",
                code="temporal_unavailable",
            ) from err
        await acceptance.record_accepted(
            session,
            invoice_id=invoice_id,
            customer_id=customer.id,
            contract_id=contract.id,
            currency=preview.currency,
            tax_region=contract.tax_region,
            po_number=body.po_number,
            issue_date=preview.issue_date,
            due_date=preview.due_date,
            subtotal_minor=preview.subtotal_minor,
            tax_minor=preview.tax_minor,
            total_minor=preview.total_minor,
            accepted_by=api_key.name,
        )
        accepted = InvoiceAccepted(
            invoice_id=invoice_id,
            workflow_id=workflow_id,
            status=InvoiceStatus.PENDING.value,
            preview=InvoicePreview(
                currency=preview.currency,
                subtotal_minor=preview.subtotal_minor,
                tax_minor=preview.tax_minor,
                total_minor=preview.total_minor,
                due_date=preview.due_date,
            ),
            links={"self": f"/invoices/{invoice_id}"},
        )
        return Answer(202, accepted.model_dump(mode="json"), f"/invoices/{invoice_id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


class CorrectionBody(BaseModel):
    items: list[BillableItem] = Field(default_factory=list)
    lines: list[ExplicitLine] = Field(default_factory=list)
    changed_by: str = Field(min_length=1, max_length=200, description="the person correcting")
    note: str | None = Field(default=None, max_length=2000)


@router.put("/{invoice_id}/lines", status_code=202)
async def correct_invoice(
    invoice_id: str,
    body: CorrectionBody,
    session: SessionDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
) -> dict[str, str]:
    """Correct an invoice its approvers sent back; a new approval round starts with new links.
    The lines are checked as on creation first (the same 422s)."""
    await check_correction(session, invoice_id, body.items, body.lines)
    await invoice_update(
        temporal,
        invoice_id,
        "correct",
        CorrectInput(**body.model_dump()),
        str,
        what="correction",
    )
    return {"status": "accepted", "invoice_id": invoice_id}


@router.get("/{invoice_id}", response_model=InvoiceDetail)
async def get_invoice(
    invoice_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    _: ApiKeyDep,
) -> InvoiceDetail:
    invoice = await session.get(Invoice, invoice_id)
    records = await queries.invoice_records(session, invoice_id) if invoice else None
    if records is not None:  # every channel tried, for the invoice and its reminders
        records["delivery_attempts"] = await delivery.attempts(session, invoice_id)
    await session.commit()
    live = await live_state(temporal, invoice_id, settings.temporal_query_timeout_s)
    if invoice is None and live is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    today = datetime.now(UTC).date()
    return InvoiceDetail(
        invoice=queries.invoice_out(invoice, today) if invoice else None,
        tax_lines=invoice.tax_lines if invoice else [],
        live=live.model_dump(mode="json") if live else None,
        **(
            records
            or {"lines": [], "payments": [], "deliveries": [], "accounting": [], "audit": []}
        ),
    )


@router.get("", response_model=InvoicePage)
async def list_invoices(
    session: SessionDep,
    _: ApiKeyDep,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    customer_id: Annotated[str | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
    sync_status: Annotated[
        SyncStatus | None,
        Query(
            description="accounting sync: pending (issued, not posted yet), synced, failing"
            " (a post failing past the alert delay), refused (accounting refused a document);"
            " the detail is in GET /exceptions?kind=accounting_sync"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> InvoicePage:
    today = datetime.now(UTC).date()
    rows, total = await queries.list_invoices(
        session,
        today=today,
        status=status.value if status else None,
        customer_id=customer_id,
        overdue=overdue,
        sync_status=sync_status,
        limit=limit,
        offset=offset,
    )
    return InvoicePage(
        items=[queries.invoice_out(row, today) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
