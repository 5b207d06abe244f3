"""What the API and the portal do to a dispute: open it (the invoice workflow's
`open_dispute` update), act on it (the dispute workflow's updates), and file evidence.

The workflows' update validators are the authority on every rule: a refusal writes
nothing to history and comes back here as `DisputeRefused` with its code and an HTTP
status, the same for the JSON API and the portal's pages. Each action is sent with an
update id derived from the caller's request id, so a repeat (a double submit, a client
retry) is the same update and acts once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio.client import Client

from api.errors import ApiError
from api.updates import invoice_update
from core.settings import Settings
from domain.evidence import EvidenceRefused, classify, safe_filename
from integrations.evidence_storage import storage_from_settings
from schemas.dispute_tables import DisputeRow
from schemas.disputes import (
    CustomerReply,
    DisputeActionResult,
    DisputeOpened,
    DisputeStatus,
    EvidenceSide,
    EvidenceView,
    OpenDisputeInput,
)
from store import disputes
from store.db import SessionFactory, transaction

R = TypeVar("R")

# Each refusal code of the updates and of evidence, with its HTTP status and title.
REFUSALS: dict[str, tuple[int, str]] = {
    "invoice_not_open": (409, "The invoice cannot be disputed now"),
    "lines_already_disputed": (409, "Those lines are already disputed"),
    "nothing_to_dispute": (409, "Nothing is left to dispute"),
    "unknown_lines": (422, "Unknown invoice lines"),
    "duplicate_lines": (422, "A line is named twice"),
    "amount_above_lines": (422, "More than the disputed lines"),
    "amount_above_balance": (422, "More than the open balance"),
    "invalid_amount": (422, "Not a valid amount"),
    "not_your_task": (403, "Not your dispute"),
    "not_with_owner": (409, "The dispute is not waiting on its owner"),
    "task_closed": (409, "Already decided"),
    "task_expired": (410, "Expired: an operator decides now"),
    "choice_not_allowed": (422, "Not an action on this dispute"),
    "remedy_not_available": (422, "Remedy not available"),
    "amount_required": (422, "An amount is required"),
    "above_creditable": (422, "More than can be credited"),
    "credit_reason_required": (422, "A credit reason is required"),
    "above_write_off_limit": (422, "Above the write-off limit"),
    "above_disputed": (422, "More than the disputed amount"),
    "note_required": (422, "A note is required"),
    "plan_too_few_instalments": (422, "A plan needs two instalments or more"),
    "plan_dates_invalid": (422, "The instalment dates are not valid"),
    "plan_sum_mismatch": (422, "The instalments do not add up to the balance"),
    "adjusted_invoice_empty": (422, "The adjusted invoice has no lines"),
    "bad_deadline": (422, "Not a valid deadline"),
    "nothing_to_answer": (409, "Nothing waits for an answer"),
    "empty_reply": (422, "The answer is empty"),
    "answer_required": (422, "Accept or decline"),
    "dispute_closed": (409, "The dispute is closed"),
    "not_adjustable": (409, "Paid or credited: use a credit note"),
    "invalid_line": (422, "Not a valid invoice line"),
    "evidence_empty": (422, "The file is empty"),
    "evidence_too_large": (413, "The file is too large"),
    "evidence_type_not_allowed": (415, "This type of file is not accepted"),
    "dispute_not_found": (404, "No such dispute"),
}


class DisputeRefused(ApiError):
    """A dispute action refused: `code` says why, `status` is its HTTP status."""

    def __init__(self, detail: str, *, code: str, **extra: Any) -> None:
        super().__init__(detail, code=code, **extra)
        self.status, self.title = REFUSALS.get(code, (409, "Refused"))

    @property
    def message(self) -> str:
        return self.detail


def dispute_workflow_id(dispute_id: str) -> str:
    return f"dispute-{dispute_id}"


async def _refusing(call: Callable[[], Coroutine[Any, Any, R]]) -> R:
    try:
        return await call()
    except DisputeRefused:
        raise
    except ApiError as err:
        if err.code in REFUSALS or err.status == 409:  # a validator's refusal
            raise DisputeRefused(err.detail, code=err.code) from err
        raise


async def open_dispute(
    client: Client, settings: Settings, invoice_id: str, data: OpenDisputeInput
) -> DisputeOpened:
    """Open the dispute (once per `data.request_id`). Raises DisputeRefused, or
    ServiceUnavailable when no worker answers in time (a repeat is safe)."""

    async def ended() -> ApiError:
        return DisputeRefused(
            f"invoice {invoice_id} is closed or was never issued: it cannot be disputed",
            code="invoice_not_open",
        )

    return await _refusing(
        lambda: invoice_update(
            client,
            invoice_id,
            "open_dispute",
            data,
            DisputeOpened,
            update_id=f"open-dispute:{data.request_id}",
            ended=ended,
            what="dispute",
        )
    )


async def dispute_update(
    client: Client, dispute_id: str, update: str, arg: Any, result_type: type[R], update_id: str
) -> R:
    """Send an update to the dispute's workflow; its refusals as DisputeRefused."""

    async def ended() -> ApiError:
        return DisputeRefused(f"dispute {dispute_id} is closed", code="dispute_closed")

    return await _refusing(
        lambda: invoice_update(
            client,
            "",
            update,
            arg,
            result_type,
            update_id=update_id,
            ended=ended,
            what=update.replace("_", " "),
            workflow_id=dispute_workflow_id(dispute_id),
        )
    )


async def customer_reply(
    client: Client, settings: Settings, dispute_id: str, reply: CustomerReply
) -> DisputeActionResult:
    """The customer's answer to a question or a proposed remedy (once per request id)."""
    return await dispute_update(
        client,
        dispute_id,
        "customer_reply",
        reply,
        DisputeActionResult,
        update_id=f"reply:{reply.request_id}",
    )


async def store_evidence(
    sessions: SessionFactory,
    settings: Settings,
    *,
    dispute_id: str,
    filename: str,
    content: bytes,
    side: EvidenceSide,
    added_by: str,
) -> EvidenceView:
    """Check the file by its content, store its bytes (content-addressed), then list it
    under the dispute with a timeline event. A refused file stores nothing; the same file
    twice is one entry."""
    try:
        kind = classify(content, filename, settings.evidence_max_bytes)
    except EvidenceRefused as refused:
        raise DisputeRefused(refused.message, code=refused.code) from refused
    async with transaction(sessions, writes=False) as session:
        dispute = await session.get(DisputeRow, dispute_id)
    if dispute is None:
        raise DisputeRefused(f"dispute {dispute_id} does not exist", code="dispute_not_found")
    if dispute.status == DisputeStatus.RESOLVED.value:
        raise DisputeRefused(
            f"dispute {dispute.number} is resolved: open a new dispute to add evidence",
            code="dispute_closed",
        )
    blob = await storage_from_settings(settings).put(content)
    now = datetime.now(UTC)
    name = safe_filename(filename)
    async with transaction(sessions) as session:
        row, created = await disputes.add_evidence(
            session,
            dispute_id=dispute_id,
            sha256=blob.sha256,
            size=blob.size,
            media_type=kind.media_type,
            filename=name,
            side=side,
            added_by=added_by,
            added_at=now,
        )
        if created:
            await disputes.add_event(
                session,
                dispute_id=dispute_id,
                event_key=f"{dispute_id}:evidence:{blob.sha256}",
                at=now,
                kind="evidence_added",
                actor=added_by,
                text=name,
                visible_to_customer=True,
                data={"evidence_id": row.id, "media_type": kind.media_type, "size": blob.size},
            )
    return EvidenceView(
        evidence_id=row.id,
        dispute_id=dispute_id,
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        side="customer" if row.side == "customer" else "staff",
        added_by=row.added_by,
        added_at=row.added_at,
    )
