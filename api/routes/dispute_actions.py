"""Disputes for upstream apps and staff: open one on an invoice, add evidence, and act on
one as its owner (notes, a question to the customer, a proposed remedy) or as the approver
of a large credit note. Each action is an update of a workflow, refused by its validator
with the same codes the portal shows (`api.dispute_service.REFUSALS`).
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, File, Form, Request, UploadFile

from api.deps import ApiKeyDep, IdempotencyKeyDep, SettingsDep, TemporalClientDep
from api.dispute_service import dispute_update, open_dispute, store_evidence
from api.openapi import problems
from schemas.disputes import (
    DisputeAction,
    DisputeActionResult,
    DisputeIntake,
    DisputeOpened,
    EvidenceView,
    OpenDisputeInput,
    RemedyProposal,
)
from schemas.ids import idempotent_id, new_id
from schemas.tasks import TaskDecideInput

router = APIRouter(tags=["disputes"])
log = structlog.get_logger()

_INTAKE_REFUSALS = problems(
    404,
    409,
    503,
    s409="The invoice is not open (`invoice_not_open`), those lines are already in an open"
    " dispute (`lines_already_disputed`), or nothing is left to dispute",
    s422="Invalid input (`validation_failed`), unknown or repeated lines (`unknown_lines`,"
    " `duplicate_lines`), or more than the open balance (`amount_above_balance`) or than"
    " the disputed lines (`amount_above_lines`)",
)
_ACTION_REFUSALS = problems(
    403,
    404,
    409,
    410,
    503,
    s403="The person is not the dispute's owner or of its group (`not_your_task`)",
    s409="The dispute is not waiting on its owner (`not_with_owner`), or is closed",
    s422="Invalid input, or refused by a remedy rule (`above_creditable`,"
    " `above_write_off_limit`, `credit_reason_required`, `remedy_not_available`, ...)",
)


@router.post(
    "/invoices/{invoice_id}/disputes",
    response_model=DisputeOpened,
    status_code=201,
    responses=_INTAKE_REFUSALS,
)
async def open_one(
    invoice_id: str,
    body: DisputeIntake,
    temporal: TemporalClientDep,
    settings: SettingsDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> DisputeOpened:
    """Open a dispute on the invoice for its customer: the reason category, the disputed
    lines (positions; none for the invoice as a whole) and/or the amount (default: the
    lines' gross, or the open balance), a description. Send an `Idempotency-Key`: a
    repeat answers with the dispute the first request opened and opens nothing more."""
    request_id = (
        idempotent_id("req", api_key.id, invoice_id, idempotency_key)
        if idempotency_key
        else new_id("req")
    )
    opened = await open_dispute(
        temporal,
        settings,
        invoice_id,
        OpenDisputeInput(request_id=request_id, intake=body, channel="api", opened_by=api_key.name),
    )
    log.info("dispute.opened", dispute_id=opened.dispute_id, number=opened.number)
    return opened


@router.post(
    "/disputes/{dispute_id}/evidence",
    response_model=EvidenceView,
    status_code=201,
    responses=problems(
        404,
        409,
        413,
        415,
        s415="The file's content is not an accepted type (PDF, PNG, JPEG, plain text, CSV,"
        " e-mail): `evidence_type_not_allowed`",
    ),
)
async def add_evidence(
    request: Request,
    dispute_id: str,
    file: Annotated[UploadFile, File(description="the evidence file")],
    settings: SettingsDep,
    api_key: ApiKeyDep,
    added_by: Annotated[str | None, Form(max_length=200)] = None,
) -> EvidenceView:
    """File staff evidence under the dispute (multipart). The type is checked by content,
    not by name; the same file twice is one entry."""
    content = await file.read(settings.evidence_max_bytes + 1)  # one byte over: refused
    return await store_evidence(
        request.app.state.sessions,
        settings,
        dispute_id=dispute_id,
        filename=file.filename or "evidence",
        content=content,
        side="staff",
        added_by=added_by or api_key.name,
    )


async def _act(
    temporal: TemporalClientDep, dispute_id: str, update: str, arg: object, request: str
) -> DisputeActionResult:
    return await dispute_update(
        temporal, dispute_id, update, arg, DisputeActionResult, update_id=f"{update}:{request}"
    )


@router.post(
    "/disputes/{dispute_id}/notes", response_model=DisputeActionResult, responses=_ACTION_REFUSALS
)
async def add_note(
    dispute_id: str,
    body: DisputeAction,
    temporal: TemporalClientDep,
    _: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> DisputeActionResult:
    """An internal note by the owner (`person_id`); not shown to the customer."""
    return await _act(temporal, dispute_id, "add_note", body, idempotency_key or new_id("req"))


@router.post(
    "/disputes/{dispute_id}/information-requests",
    response_model=DisputeActionResult,
    responses=_ACTION_REFUSALS,
)
async def request_information(
    dispute_id: str,
    body: DisputeAction,
    temporal: TemporalClientDep,
    _: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> DisputeActionResult:
    """Ask the customer a question (`text`), answered through the portal by `respond_by`
    (default: in `dispute_info_response_days`). The SLA clock stops until they answer."""
    return await _act(
        temporal, dispute_id, "request_information", body, idempotency_key or new_id("req")
    )


@router.post(
    "/disputes/{dispute_id}/remedies",
    response_model=DisputeActionResult,
    responses=_ACTION_REFUSALS,
)
async def propose_remedy(
    dispute_id: str,
    body: RemedyProposal,
    temporal: TemporalClientDep,
    _: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> DisputeActionResult:
    """Propose a remedy: a credit note (`amount_minor`, `credit_reason`, `settlement`), a
    small-balance write-off (`amount_minor`), or a rejection (`note` says why). A credit
    note above the approval threshold waits for an approver; then the customer accepts or
    declines through the portal (a rejection closes the dispute at once)."""
    return await _act(
        temporal, dispute_id, "propose_remedy", body, idempotency_key or new_id("req")
    )


@router.post(
    "/disputes/{dispute_id}/credit-approval",
    response_model=DisputeActionResult,
    responses=_ACTION_REFUSALS,
)
async def decide_credit(
    dispute_id: str,
    body: TaskDecideInput,
    temporal: TemporalClientDep,
    _: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> DisputeActionResult:
    """An approver's decision on a credit note above the threshold: `choice` is `approve`
    or `reject` (with a `reason`)."""
    return await _act(temporal, dispute_id, "decide_credit", body, idempotency_key or new_id("req"))
