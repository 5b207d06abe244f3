"""The payment provider: hosted payment links, partial payments, and signed webhooks.

``POST /payments/v1/links/{id}/payments`` is the sandbox's "the customer paid" button for
tests; ``/pay/{id}`` is the same action as a page, which is what the "pay" link in our
e-mails opens in the dev stack. Both go through the same idempotent effect, so a
double-submitted form pays once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from sandbox.context import SandboxContext, SandboxDep
from sandbox.gate import Effect, ProviderReject, fingerprint
from sandbox.pages import render
from sandbox.providers import new_id
from sandbox.state import Tx
from sandbox.webhooks import new_event

API = "payments"
LINK = "payment_link"
PAYMENT = "payment"

router = APIRouter(tags=["payments"])

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class LinkCreate(BaseModel):
    reference: Annotated[str, StringConstraints(min_length=1)]
    amount_minor: int = Field(gt=0)
    currency: Currency
    description: str


class PaymentCreate(BaseModel):
    amount_minor: int = Field(gt=0)


def create_link(sandbox: SandboxContext) -> Callable[[Tx, LinkCreate], Effect]:
    public_url = sandbox.settings.public_base_url

    def effect(tx: Tx, req: LinkCreate) -> Effect:
        link_id = new_id("plink")
        link = {
            "id": link_id,
            "url": f"{public_url}/pay/{link_id}",
            "status": "open",
            "amount_minor": req.amount_minor,
            "currency": req.currency,
            "reference": req.reference,
            "description": req.description,
            "paid_minor": 0,
        }
        tx.insert(LINK, link_id, req.reference, link)
        return Effect(201, link, after_commit=lambda: sandbox.waiters.notify(LINK, req.reference))

    return effect


def pay_link(sandbox: SandboxContext, link_id: str) -> Callable[[Tx, PaymentCreate], Effect]:
    def effect(tx: Tx, req: PaymentCreate) -> Effect:
        link = tx.get(LINK, link_id)
        if link is None:
            raise ProviderReject(404, f"No payment link {link_id}")
        remaining = link["amount_minor"] - link["paid_minor"]
        if req.amount_minor > remaining:
            raise ProviderReject(
                422, f"amount_minor {req.amount_minor} exceeds the remaining balance {remaining}"
            )
        paid_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        payment = {
            "id": new_id("pay"),
            "link_id": link_id,
            "reference": link["reference"],
            "amount_minor": req.amount_minor,
            "currency": link["currency"],
            "paid_at": paid_at,
        }
        tx.insert(PAYMENT, payment["id"], link["reference"], payment)
        link["paid_minor"] += req.amount_minor
        link["status"] = "paid" if link["paid_minor"] == link["amount_minor"] else "open"
        tx.update(link_id, link)
        data = {"payment_id": payment["id"], **{k: v for k, v in payment.items() if k != "id"}}
        event = new_event(tx, "payment.succeeded", data, link["reference"])
        return Effect(201, payment, after_commit=lambda: sandbox.webhooks.schedule(event))

    return effect


def _link_or_404(sandbox: SandboxContext, link_id: str) -> dict[str, Any]:
    link = sandbox.store.record(LINK, link_id)
    if link is None:
        raise ProviderReject(404, f"No payment link {link_id}")
    return link


@router.post("/payments/v1/links", status_code=201)
async def post_link(request: Request, sandbox: SandboxDep) -> JSONResponse:
    """Body: {"reference", "amount_minor", "currency", "description"}."""
    effect = create_link(sandbox)
    return await sandbox.gate.post(request, API, LinkCreate, effect)


@router.get("/payments/v1/links")
async def list_links(
    request: Request, sandbox: SandboxDep, reference: str | None = None
) -> JSONResponse:
    return await sandbox.gate.get(request, API, lambda: sandbox.store.records(LINK, reference))


@router.get("/payments/v1/links/{link_id}")
async def get_link(request: Request, sandbox: SandboxDep, link_id: str) -> JSONResponse:
    return await sandbox.gate.get(request, API, lambda: _link_or_404(sandbox, link_id))


@router.post("/payments/v1/links/{link_id}/payments", status_code=201)
async def post_payment(request: Request, sandbox: SandboxDep, link_id: str) -> JSONResponse:
    """Body: {"amount_minor"}. Partial payments are fine; more than the balance is 422."""
    return await sandbox.gate.post(request, API, PaymentCreate, pay_link(sandbox, link_id))


@router.get("/payments/v1/links/{link_id}/payments")
async def list_payments(request: Request, sandbox: SandboxDep, link_id: str) -> JSONResponse:
    def produce() -> list[dict[str, Any]]:
        link = _link_or_404(sandbox, link_id)
        payments = sandbox.store.records(PAYMENT, link["reference"])
        return [p for p in payments if p["link_id"] == link_id]

    return await sandbox.gate.get(request, API, produce)


# -- the customer's page -------------------------------------------------------------------


def _pay_page(
    sandbox: SandboxContext, link: dict[str, Any], *, status: int = 200, **extra: Any
) -> HTMLResponse:
    # A fresh key per rendered form: resubmitting this form replays, a new visit pays anew.
    return render(
        "pay.html",
        status=status,
        link=link,
        remaining=link["amount_minor"] - link["paid_minor"],
        idempotency_key=str(uuid.uuid4()),
        **extra,
    )


@router.get("/pay/{link_id}", response_class=HTMLResponse, include_in_schema=False)
async def pay_page(sandbox: SandboxDep, link_id: str, paid: str | None = None) -> Response:
    link = sandbox.store.record(LINK, link_id)
    if link is None:
        return render("not_found.html", status=404, what=f"payment link {link_id}")
    return _pay_page(sandbox, link, paid=paid)


@router.post("/pay/{link_id}", response_class=HTMLResponse, include_in_schema=False)
async def pay_submit(
    request: Request,
    sandbox: SandboxDep,
    link_id: str,
    amount_minor: Annotated[str, Form()],
    idempotency_key: Annotated[str, Form()],
) -> Response:
    link = sandbox.store.record(LINK, link_id)
    if link is None:
        return render("not_found.html", status=404, what=f"payment link {link_id}")
    try:
        req = PaymentCreate(amount_minor=int(amount_minor))
    except ValueError:
        return _pay_page(sandbox, link, status=422, error="Enter a whole positive amount.")
    payload = req.model_dump()
    fp = fingerprint("POST", f"/payments/v1/links/{link_id}/payments", payload)
    outcome = sandbox.gate.commit(API, idempotency_key, fp, req, pay_link(sandbox, link_id))
    sandbox.gate.settle(request, API, idempotency_key, payload, outcome)
    if outcome.status == 201:
        return RedirectResponse(f"/pay/{link_id}?paid={outcome.body['id']}", status_code=303)
    refreshed = sandbox.store.record(LINK, link_id) or link
    detail = outcome.body.get("detail") or outcome.body.get("title")
    return _pay_page(sandbox, refreshed, status=outcome.status, error=detail)
