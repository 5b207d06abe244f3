"""What happens when a purchase order changes (created, amended, received against):
invoices waiting on it in the exception queue are told, so their match stage matches
them again and an invoice whose reasons are gone goes on by itself.

Best effort by design: the change itself is committed before this runs, and a signal
Temporal could not take (it is away) is not retried here. The match stage also matches
again before each reminder, so a missed signal delays a release by one reminder period,
never loses it.
"""

from __future__ import annotations

import structlog
from fastapi import Request
from temporalio.service import RPCError

from api.deps import temporal_client
from schemas.ids import invoice_workflow_id
from schemas.po_tables import PurchaseOrderRow
from store import exceptions

log = structlog.get_logger()


async def purchase_order_changed(request: Request, po_id: str) -> None:
    """Signal `po_changed` to every invoice with an open exception on this PO."""
    async with request.app.state.sessions() as session:
        po = await session.get(PurchaseOrderRow, po_id)
        if po is None:
            return
        waiting = await exceptions.open_for_po(session, po.customer_id, po.number)
    if not waiting:
        return
    client = await temporal_client(request.app)
    if client is None:
        log.warning("po.change_not_signalled", po_id=po_id, invoices=waiting)
        return
    for invoice_id in waiting:
        try:
            await client.get_workflow_handle(invoice_workflow_id(invoice_id)).signal("po_changed")
        except RPCError as err:  # finished meanwhile, or Temporal went away
            log.warning("po.change_not_signalled", invoice_id=invoice_id, error=str(err))
