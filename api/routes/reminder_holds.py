"""Reminder holds: stop the reminders of one invoice, or of every invoice of a customer,
with a reason and an end date (a payment promised for the 15th, a dispute handled by
phone). A hold is checked when a step falls due, so one placed at any time holds the next
reminder; releasing it early tells the invoices' processes (signal ``reminders_changed``),
so a step that was waiting goes out now. Each hold and release is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col, select
from temporalio.service import RPCError

from api.deps import ApiKeyDep, SessionDep, temporal_client
from api.errors import NotFoundError, Unprocessable
from schemas.ids import invoice_workflow_id
from schemas.invoice import OPEN_STATUSES
from schemas.reminder_tables import ReminderHoldRow
from schemas.tables import Customer, Invoice
from store import reminders

log = structlog.get_logger()
router = APIRouter(tags=["reminders"])


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="kept with the hold")
    until: AwareDatetime = Field(description="reminders resume at this instant")
    held_by: str = Field(min_length=1, max_length=200, description="the person holding")


class ReleaseIn(BaseModel):
    released_by: str = Field(min_length=1, max_length=200)


class HoldOut(BaseModel):
    id: str
    invoice_id: str | None
    customer_id: str | None
    reason: str
    until: datetime
    held_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    active: bool


def _out(row: ReminderHoldRow) -> HoldOut:
    now = datetime.now(UTC)
    active = row.released_at is None and row.until > now
    return HoldOut(**row.model_dump(), active=active)


def _check_until(body: HoldIn) -> None:
    if body.until <= datetime.now(UTC):
        raise Unprocessable("until must be in the future", code="hold_in_the_past")


async def _tell(request: Request, invoice_ids: list[str]) -> None:
    """Best effort: the hold is stored; a process not told looks at holds at its next step."""
    client = await temporal_client(request.app)
    if client is None:
        return
    for invoice_id in invoice_ids:
        try:
            handle = client.get_workflow_handle(invoice_workflow_id(invoice_id))
            await handle.signal("reminders_changed")
        except RPCError as err:  # finished meanwhile, or Temporal went away
            log.warning("reminders.change_not_signalled", invoice_id=invoice_id, error=str(err))


async def _open_invoices(session: SessionDep, customer_id: str) -> list[str]:
    rows = await session.exec(
        select(Invoice.id).where(
            Invoice.customer_id == customer_id,
            col(Invoice.status).in_([s.value for s in OPEN_STATUSES]),
        )
    )
    return list(rows)


@router.post("/invoices/{invoice_id}/reminder-holds", status_code=201, response_model=HoldOut)
async def hold_invoice(
    invoice_id: str, body: HoldIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> HoldOut:
    """Hold the invoice's reminders until `until`."""
    _check_until(body)
    if await session.get(Invoice, invoice_id) is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    row = await reminders.place_hold(
        session,
        invoice_id=invoice_id,
        customer_id=None,
        reason=body.reason,
        until=body.until,
        held_by=body.held_by,
    )
    out = _out(row)
    await session.commit()
    await _tell(request, [invoice_id])
    return out


@router.get("/invoices/{invoice_id}/reminder-holds", response_model=list[HoldOut])
async def invoice_holds(invoice_id: str, session: SessionDep, _: ApiKeyDep) -> list[HoldOut]:
    if await session.get(Invoice, invoice_id) is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    return [_out(row) for row in await reminders.holds_of(session, invoice_id=invoice_id)]


@router.post("/invoices/{invoice_id}/reminder-holds/release", response_model=list[HoldOut])
async def release_invoice(
    invoice_id: str, body: ReleaseIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> list[HoldOut]:
    """Release the holds in force on the invoice: a waiting reminder goes out now."""
    if await session.get(Invoice, invoice_id) is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    released = await reminders.release_holds(
        session, invoice_id=invoice_id, released_by=body.released_by
    )
    out = [_out(row) for row in released]
    await session.commit()
    await _tell(request, [invoice_id])
    return out


@router.post("/customers/{customer_id}/reminder-holds", status_code=201, response_model=HoldOut)
async def hold_customer(
    customer_id: str, body: HoldIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> HoldOut:
    """Hold the reminders of every invoice of the customer (those issued later too)."""
    _check_until(body)
    if await session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    row = await reminders.place_hold(
        session,
        invoice_id=None,
        customer_id=customer_id,
        reason=body.reason,
        until=body.until,
        held_by=body.held_by,
    )
    out = _out(row)
    invoices = await _open_invoices(session, customer_id)
    await session.commit()
    await _tell(request, invoices)
    return out


@router.get("/customers/{customer_id}/reminder-holds", response_model=list[HoldOut])
async def customer_holds(customer_id: str, session: SessionDep, _: ApiKeyDep) -> list[HoldOut]:
    if await session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    return [_out(row) for row in await reminders.holds_of(session, customer_id=customer_id)]


@router.post("/customers/{customer_id}/reminder-holds/release", response_model=list[HoldOut])
async def release_customer(
    customer_id: str, body: ReleaseIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> list[HoldOut]:
    if await session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    released = await reminders.release_holds(
        session, customer_id=customer_id, released_by=body.released_by
    )
    out = [_out(row) for row in released]
    invoices = await _open_invoices(session, customer_id)
    await session.commit()
    await _tell(request, invoices)
    return out
