"""The control API (``/_sandbox``): what tests use to inspect calls and inject failures.

No API key, because tests and developers must reach it without provider credentials; instead
it answers loopback clients only (unless ``SANDBOX_CONTROL_ALLOW_REMOTE`` is set).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from sandbox.context import SandboxContext, SandboxDep, get_context
from sandbox.faults import FaultProfile, FaultState
from sandbox.oidc import OidcScenario
from sandbox.providers.payments import LINK
from sandbox.state import CallRecord, SmtpReception
from sandbox.webhooks import EVENT_KIND


async def _require_loopback(
    request: Request, sandbox: Annotated[SandboxContext, Depends(get_context)]
) -> None:
    if sandbox.settings.control_allow_remote:
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise HTTPException(403, "The sandbox control API answers loopback clients only")


router = APIRouter(prefix="/_sandbox", tags=["control"], dependencies=[Depends(_require_loopback)])


@router.get("/calls")
async def list_calls(
    sandbox: SandboxDep,
    api: str | None = None,
    replayed: bool | None = None,
    idempotency_key: str | None = None,
    limit: int | None = None,
) -> list[CallRecord]:
    """Recorded calls, oldest first; api is sms, payments, accounting or webhooks."""
    return sandbox.store.calls(api, replayed, idempotency_key, limit)


@router.get("/smtp/receptions")
async def smtp_receptions(sandbox: SandboxDep, to: str | None = None) -> list[SmtpReception]:
    """Every message the SMTP server was handed, copies included, oldest first (the
    mailbox keeps one per Message-ID); `to` keeps those with that envelope recipient."""
    wanted = to.strip().lower() if to is not None else None
    receptions = sandbox.store.receptions()
    if wanted is None:
        return receptions
    return [r for r in receptions if any(a.lower() == wanted for a in r.to)]


@router.get("/records/{kind}")
async def list_records(
    sandbox: SandboxDep, kind: str, reference: str | None = None
) -> list[dict[str, Any]]:
    """Every provider record of one kind (payment_link, payment, sms_message,
    accounting_invoice, accounting_payment, ...), oldest first: what tests count effects on."""
    return sandbox.store.records(kind, reference)


@router.get("/payment-links/wait")
async def wait_for_payment_links(
    sandbox: SandboxDep,
    reference: Annotated[str, Query(min_length=1)],
    timeout_s: Annotated[float, Query(gt=0, le=120)] = 30,
) -> list[dict]:
    """The payment links for `reference` as soon as one exists (a long-poll), for tests and
    the benchmark to act as a paying customer without polling. Empty after `timeout_s`."""
    return await sandbox.waiters.wait_for(
        LINK, reference, lambda: sandbox.store.records(LINK, reference), timeout_s
    )


@router.post("/faults")
async def set_faults(sandbox: SandboxDep, profile: FaultProfile) -> list[FaultState]:
    sandbox.faults.set(profile)
    return sandbox.faults.states()


@router.get("/faults")
async def get_faults(sandbox: SandboxDep) -> list[FaultState]:
    return sandbox.faults.states()


@router.delete("/faults", status_code=204)
async def clear_faults(sandbox: SandboxDep) -> Response:
    sandbox.faults.clear()
    return Response(status_code=204)


@router.post("/reset", status_code=204)
async def reset(sandbox: SandboxDep) -> Response:
    """Forget everything: calls, provider records, idempotency keys, mail, faults."""
    sandbox.faults.clear()
    await sandbox.webhooks.cancel_pending()
    sandbox.store.reset()
    sandbox.oidc.reset()
    return Response(status_code=204)


@router.post("/oidc")
async def set_oidc_scenario(sandbox: SandboxDep, scenario: OidcScenario) -> OidcScenario:
    """Who the OpenID Connect provider signs in from now on, whether they decline, and
    how their ID token is spoiled (a field left out takes its default)."""
    sandbox.oidc.scenario = scenario
    return scenario


@router.get("/oidc")
async def get_oidc_scenario(sandbox: SandboxDep) -> OidcScenario:
    return sandbox.oidc.scenario


@router.post("/webhooks/{event_id}/redeliver", status_code=202)
async def redeliver(sandbox: SandboxDep, event_id: str) -> JSONResponse:
    """Send a stored event again, as providers do at will; receivers must dedupe."""
    event = sandbox.store.record(EVENT_KIND, event_id)
    if event is None:
        raise HTTPException(404, f"No webhook event {event_id}")
    sandbox.webhooks.schedule(event)
    return JSONResponse({"event_id": event_id}, status_code=202)
