"""The portal's "I have paid": ``POST /portal/invoices/{id}/paid?token=``.

A customer who paid but whose payment the invoice does not show yet (the provider's webhook
never reached us) asks the invoice to look: the route signals ``payment_claimed`` and the
invoice asks the payment provider at once (`workflows.stages.payment_check`), applying what
it finds as the webhook would have.

It takes the signed link only, no CSRF form token: the action is a read-only look-up at the
provider that the invoice runs at most once a minute, so a forged post can make it look
sooner and nothing else. It is a POST, so a mail scanner prefetching the link never sends it.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.service import RPCError

from api.deps import OptionalTemporalDep, SessionDep, SettingsDep
from api.portal_pages import UNAVAILABLE, Portal, open_portal
from schemas.ids import invoice_workflow_id
from schemas.payment_checks import PaymentClaimed

router = APIRouter()
log = structlog.get_logger()


@router.post("/invoices/{invoice_id}/paid", response_class=HTMLResponse)
async def claim_paid(
    invoice_id: str,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    opened = await open_portal(session, settings, invoice_id, token, accept_language)
    await session.commit()  # end the read
    if not isinstance(opened, Portal):
        return opened
    if temporal is None:
        return _unavailable(opened)
    try:
        await temporal.get_workflow_handle(invoice_workflow_id(invoice_id)).signal(
            "payment_claimed", PaymentClaimed(claimed_by="customer")
        )
    except RPCError as away:  # the process ended (paid, closed) or Temporal is away
        log.warning("portal.payment_claim_unsent", invoice_id=invoice_id, error=str(away))
        return _unavailable(opened)
    log.info("portal.payment_claimed", invoice_id=invoice_id)
    return RedirectResponse(opened.url(done="payment_check"), status_code=303)


def _unavailable(portal: Portal) -> Response:
    page = portal.message(503, UNAVAILABLE)
    page.headers["Retry-After"] = "30"
    return page
