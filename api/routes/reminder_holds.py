"""Reminder holds: stop the reminders of one invoice, or of every invoice of a customer,
with a reason and an end date (a payment promised for the 15th, a dispute handled by
phone). A hold is checked when a step falls due, so one placed at any time holds the next
reminder; releasing it early tells the invoices' processes (signal ``reminders_changed``),
so a step that was waiting goes out now. Each hold and release is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Target:
    """What a hold stops: one invoice, or every invoice of one customer."""

    invoice_id: str | None = None
    customer_id: str | None = None

    async def check(self, session: SessionDep) -> None:
        table, key = (Invoice, self.invoice_id) if self.invoice_id else (Customer, self.customer_id)
        if await session.get(table, key) is None:
            raise NotFoundError(f"{table.__name__.lower()} {key} does not exist")

    async def invoices(self, session: SessionDep) -> list[str]:
        """The processes to tell: the invoice, or the customer's open invoices."""
        if self.invoice_id is not None:
            return [self.invoice_id]
        rows = await session.exec(
            select(Invoice.id).where(
                Invoice.customer_id == self.customer_id,
                col(Invoice.status).in_([s.value for s in OPEN_STATUSES]),
            )
        )
        return list(rows)


async def _hold(target: Target, body: HoldIn, request: Request, session: SessionDep) -> HoldOut:
    if body.until <= datetime.now(UTC):
        raise Unprocessable("until must be in the future", code="hold_in_the_past")
    await target.check(session)
    row = await reminders.place_hold(
        session,
        invoice_id=target.invoice_id,
        customer_id=target.customer_id,
        reason=body.reason,
        until=body.until,
        held_by=body.held_by,
    )
    out = _out(row)
    told = await target.invoices(session)
    await session.commit()
    await _tell(request, told)
    return out


async def _holds(target: Target, session: SessionDep) -> list[HoldOut]:
    await target.check(session)
    rows = await reminders.holds_of(
        session, invoice_id=target.invoice_id, customer_id=target.customer_id
    )
    return [_out(row) for row in rows]


async def _release(
    target: Target, body: ReleaseIn, request: Request, session: SessionDep
) -> list[HoldOut]:
    await target.check(session)
    released = await reminders.release_holds(
        session,
        invoice_id=target.invoice_id,
        customer_id=target.customer_id,
        released_by=body.released_by,
    )
    out = [_out(row) for row in released]
    told = await target.invoices(session)
    await session.commit()
    await _tell(request, told)
    return out


@router.post("/invoices/{invoice_id}/reminder-holds", status_code=201, response_model=HoldOut)
async def hold_invoice(
    invoice_id: str, body: HoldIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> HoldOut:
    """Hold the invoice's reminders until `until`."""
    return await _hold(Target(invoice_id=invoice_id), body, request, session)


@router.get("/invoices/{invoice_id}/reminder-holds", response_model=list[HoldOut])
async def invoice_holds(invoice_id: str, session: SessionDep, _: ApiKeyDep) -> list[HoldOut]:
    return await _holds(Target(invoice_id=invoice_id), session)


@router.post("/invoices/{invoice_id}/reminder-holds/release", response_model=list[HoldOut])
async def release_invoice(
    invoice_id: str, body: ReleaseIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> list[HoldOut]:
    """Release the holds in force on the invoice: a waiting reminder goes out now."""
    return await _release(Target(invoice_id=invoice_id), body, request, session)


@router.post("/customers/{customer_id}/reminder-holds", status_code=201, response_model=HoldOut)
async def hold_customer(
    customer_id: str, body: HoldIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> HoldOut:
    """Hold the reminders of every invoice of the customer (those issued later too)."""
    return await _hold(Target(customer_id=customer_id), body, request, session)


@router.get("/customers/{customer_id}/reminder-holds", response_model=list[HoldOut])
async def customer_holds(customer_id: str, session: SessionDep, _: ApiKeyDep) -> list[HoldOut]:
    return await _holds(Target(customer_id=customer_id), session)


@router.post("/customers/{customer_id}/reminder-holds/release", response_model=list[HoldOut])
async def release_customer(
    customer_id: str, body: ReleaseIn, request: Request, session: SessionDep, _: ApiKeyDep
) -> list[HoldOut]:
    """Release the customer's holds in force: their invoices' waiting reminders go now."""
    return await _release(Target(customer_id=customer_id), body, request, session)
