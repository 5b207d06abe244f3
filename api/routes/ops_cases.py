"""One case from the work queues, for an operator: a PO exception or a dispute, its facts,
its SLA, its invoice and (for a dispute) its timeline, with the link to its workflow in the
Temporal UI, where operations act on it (each human step is an update there).

Read-only: acting on a case stays with its owner's signed link and with the Temporal UI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.errors import problem
from api.ops_views import queue_view, workflow_url
from api.ops_web import OperatorDep, json_view, render, render_message, settings_of
from schemas.tables import Invoice
from store import dispute_reads, ops_queues

router = APIRouter(prefix="/ops/cases", tags=["ops"], include_in_schema=False)


async def _exception(request: Request, session: SessionDep, case_id: str) -> dict[str, Any] | None:
    settings = settings_of(request)
    now = datetime.now(UTC)
    items = await ops_queues.open_exceptions(
        session, now, timedelta(hours=settings.exception_expire_after_h), case_id=case_id
    )
    await session.commit()
    if not items:
        return None
    return {"case": queue_view(items[0], settings), "events": []}


async def _dispute(request: Request, session: SessionDep, case_id: str) -> dict[str, Any] | None:
    settings = settings_of(request)
    items = await ops_queues.open_disputes(session, datetime.now(UTC), case_id=case_id)
    events = await dispute_reads.events_of(session, case_id)
    row = await dispute_reads.get_dispute(session, case_id)
    await session.commit()
    if not items or row is None:
        return None
    view = {
        "case": queue_view(items[0], settings),
        "description": row.description,
        "resolution": row.resolution,
        "events": [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "text": e.text}
            for e in events
        ],
    }
    return view


async def _case(
    request: Request, session: SessionDep, kind: str, case_id: str
) -> dict[str, Any] | None:
    found = await (_exception if kind == "exceptions" else _dispute)(request, session, case_id)
    if found is None:
        return None
    invoice = await session.get(Invoice, found["case"]["invoice_id"])
    await session.commit()
    found["invoice"] = (
        None
        if invoice is None
        else {
            "number": invoice.number,
            "status": invoice.status,
            "currency": invoice.currency,
            "total_minor": invoice.total_minor,
            "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
            "workflow_url": workflow_url(settings_of(request), f"invoice-{invoice.id}"),
        }
    )
    return found


@router.get("/{kind}/{case_id}.json")
async def case_json(
    request: Request, _: OperatorDep, session: SessionDep, kind: str, case_id: str
) -> Response:
    found = (
        await _case(request, session, kind, case_id) if kind in ("exceptions", "disputes") else None
    )
    if found is None:
        return problem(
            404, "Not found", "no such open case", code="not_found", instance=request.url.path
        )
    return json_view(found)


@router.get("/{kind}/{case_id}")
async def case_page(
    request: Request, operator: OperatorDep, session: SessionDep, kind: str, case_id: str
) -> Response:
    found = (
        await _case(request, session, kind, case_id) if kind in ("exceptions", "disputes") else None
    )
    if found is None:
        return render_message(
            request, 404, "Not found", "There is no such case (it may be closed)."
        )
    return render(request, "ops_case.html", operator=operator, active="queues", view=found)
