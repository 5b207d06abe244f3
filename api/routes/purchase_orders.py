"""Purchase orders: the customer's POs that invoices are matched against, their amendments
(each a new revision, kept with who made it and when) and the delivery records (goods
receipts, delivery confirmations, approved timesheets) that 3-way matching compares with.

Every POST takes an ``Idempotency-Key``. A refusal writes nothing and is a problem document
with a stable code: 404 for an unknown PO; 409 ``po_number_taken``, ``po_closed``,
``receipt_reference_used``; 422 ``unknown_customer``, ``po_of_another_customer``,
``unknown_line``, ``duplicate_line_number``, ``over_delivery``, ``quantity_below_used``,
``validity_not_extended``, and ``validation_failed`` for a body that cannot be right.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep
from api.errors import ApiError, Conflict, NotFoundError, Unprocessable
from api.idempotency import Answer, idempotent
from api.openapi import problems
from api.po_events import purchase_order_changed
from domain.matching.model import POStatus
from schemas.po_api import (
    ID_PATTERN,
    DeliveryReceiptCreate,
    PurchaseOrderAmendment,
    PurchaseOrderCreate,
    PurchaseOrderOut,
    PurchaseOrderPage,
)
from store import purchase_orders
from store.db import begin_write
from store.po_reads import summary

router = APIRouter(prefix="/purchase-orders", tags=["purchase orders"])

PoId = Annotated[str, Path(max_length=100, pattern=ID_PATTERN, description="po_...")]

_REFUSED = "The request does not fit the PO (`unknown_customer`, `po_of_another_customer`,"
_REFUSED += " `unknown_line`, `duplicate_line_number`, `over_delivery`, `quantity_below_used`,"
_REFUSED += " `validity_not_extended`), or invalid input (`validation_failed`)"


def _problem(err: purchase_orders.PurchaseOrderError) -> ApiError:
    if isinstance(err, purchase_orders.PONotFound):
        return NotFoundError(err.detail, code=err.code)
    if isinstance(err, purchase_orders.PurchaseOrderConflict):
        return Conflict(err.detail, code=err.code)
    return Unprocessable(err.detail, code=err.code)


async def _detail(session: Any, po_id: str) -> dict[str, Any]:
    out = await purchase_orders.detail(session, po_id)
    if out is None:
        raise NotFoundError(f"purchase order {po_id} does not exist")
    dumped: dict[str, Any] = out.model_dump(mode="json")
    return dumped


@router.post(
    "",
    status_code=201,
    response_model=PurchaseOrderOut,
    responses=problems(s409="The customer already has a PO with this number (`po_number_taken`)"),
)
async def create_purchase_order(
    body: PurchaseOrderCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """A new open PO for a customer, at revision 1. Invoices waiting in the exception
    queue for a PO of this number are matched again."""

    async def produce() -> Answer:
        await begin_write(session)
        actor = body.created_by or api_key.name
        try:
            po = await purchase_orders.create(session, body, actor=actor, now=datetime.now(UTC))
        except purchase_orders.PurchaseOrderError as err:
            raise _problem(err) from None
        out = await _detail(session, po.id)
        await session.commit()
        # an invoice may be waiting for this very PO (PO_MISSING until it exists)
        await purchase_order_changed(request, po.id)
        return Answer(201, out, f"/purchase-orders/{po.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("", response_model=PurchaseOrderPage)
async def list_purchase_orders(
    session: SessionDep,
    _: ApiKeyDep,
    customer_id: Annotated[str | None, Query(max_length=100, pattern=ID_PATTERN)] = None,
    status: POStatus | None = None,
    number: Annotated[
        str | None, Query(max_length=100, pattern=ID_PATTERN, description="the PO number")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> PurchaseOrderPage:
    """Purchase orders, newest first (without their lines: read one PO for those)."""
    rows, total = await purchase_orders.list_purchase_orders(
        session, customer_id=customer_id, status=status, number=number, limit=limit, offset=offset
    )
    return PurchaseOrderPage(
        items=[summary(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{po_id}", response_model=PurchaseOrderOut)
async def get_purchase_order(po_id: PoId, session: SessionDep, _: ApiKeyDep) -> JSONResponse:
    """The PO at its latest revision: each line ordered, received, invoiced and remaining;
    every revision (who changed what, and when); every delivery record."""
    return JSONResponse(await _detail(session, po_id))


@router.post(
    "/{po_id}/amendments",
    response_model=PurchaseOrderOut,
    responses=problems(s409="The PO is closed or cancelled (`po_closed`)", s422=_REFUSED),
)
async def amend_purchase_order(
    po_id: PoId,
    body: PurchaseOrderAmendment,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Amend the PO: add lines, change a line's quantity, price, description,
    over-delivery or tolerances, extend its validity, close or cancel it. The answer is the
    PO as it now stands; its ``revision`` went up by one unless nothing changed."""

    async def produce() -> Answer:
        await begin_write(session)
        try:
            await purchase_orders.amend(session, po_id, body, now=datetime.now(UTC))
        except purchase_orders.PurchaseOrderError as err:
            raise _problem(err) from None
        out = await _detail(session, po_id)
        await session.commit()
        await purchase_order_changed(request, po_id)
        return Answer(200, out)

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.post(
    "/{po_id}/receipts",
    status_code=201,
    response_model=PurchaseOrderOut,
    responses={
        200: {
            "model": PurchaseOrderOut,
            "description": "Every line was recorded already with this reference: nothing new",
        },
        **problems(
            s409="The PO is closed or cancelled (`po_closed`), or the reference is recorded"
            " for a line with other figures (`receipt_reference_used`)",
            s422=_REFUSED,
        ),
    },
)
async def record_receipt(
    po_id: PoId,
    body: DeliveryReceiptCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Record a delivery against the PO's lines (201; 200 when it was all recorded
    already). More than a line's ordered quantity, earlier deliveries included, is refused
    unless the line allows over-delivery. The answer is the PO as it now stands."""

    async def produce() -> Answer:
        await begin_write(session)
        actor = body.recorded_by or api_key.name
        try:
            new = await purchase_orders.add_receipt(
                session, po_id, body, actor=actor, now=datetime.now(UTC)
            )
        except purchase_orders.PurchaseOrderError as err:
            raise _problem(err) from None
        out = await _detail(session, po_id)
        await session.commit()
        await purchase_order_changed(request, po_id)
        return Answer(201 if new else 200, out, f"/purchase-orders/{po_id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )
