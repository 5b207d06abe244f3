"""The customer portal's dispute pages, all under the invoice's signed link (``?token=``):

- ``GET  /portal/invoices/{id}/disputes/new``: the form that opens a dispute;
- ``POST /portal/invoices/{id}/disputes``: opens it (303 to its page);
- ``GET  /portal/invoices/{id}/disputes/{dispute_id}``: its page;
- ``POST …/disputes/{dispute_id}/reply``: answer an information request;
- ``POST …/disputes/{dispute_id}/remedy``: accept or decline a proposed remedy;
- ``POST …/disputes/{dispute_id}/evidence``: add files.

A GET only shows. Every POST is checked in one order, and stops at the first refusal
having created nothing: the link (403, 410, 404), the form's CSRF token
(`api.portal_forms`, 403), the fields, every attachment's content
(`domain.evidence.classify`, 422 with the form again), then the action through
`api.dispute_service` (its `DisputeRefused` shows the form again with its status). The
form's `submission_id` is the action's `request_id`, so a form posted twice is one action
and both posts land on the same page.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from temporalio.service import RPCError

from api import dispute_service
from api.deps import OptionalTemporalDep, SessionDep, SettingsDep
from api.dispute_service import DisputeRefused
from api.errors import ServiceUnavailable
from api.portal_dispute_view import FormState, evidence_refusal, render_form
from api.portal_forms import (
    COOKIE_NAME,
    MAX_FILES,
    FormRefused,
    browser_cookie,
    check,
    issue,
    parse_amount,
    read_upload,
    remember_browser,
    text,
    uploads,
)
from api.portal_labels import refusal
from api.portal_pages import FORM_REFUSED, NOTHING_TO_DISPUTE, UNAVAILABLE, Portal, open_portal
from api.portal_view import DISPUTABLE_STATUSES, invoice_disputes
from core.settings import Settings
from domain.disputes.model import DisputeReason
from domain.evidence import EvidenceRefused, classify, safe_filename
from schemas.disputes import DisputeIntake, OpenDisputeInput
from store import queries
from store.disputes import dispute_id_for

router = APIRouter()
log = structlog.get_logger()

AcceptLanguage = Annotated[str | None, Header()]
Files = list[tuple[str, bytes]]


async def _lines(session: SessionDep, invoice_id: str) -> list[dict[str, object]]:
    return (await queries.invoice_records(session, invoice_id))["lines"]


def with_cookie(response: Response, settings: Settings, cookie: str) -> Response:
    remember_browser(response, settings, cookie)
    return response


async def read_form(request: Request) -> FormData:
    return await request.form(max_files=MAX_FILES + 1, max_fields=500)


async def files_of(portal: Portal, form: FormData, settings: Settings, state: FormState) -> Files:
    """The attachments' bytes, each checked by content; a refused one adds an error."""
    chosen = uploads(form)
    if len(chosen) > MAX_FILES:
        state.errors.append(
            portal.t.gettext("Send at most %(count)s files at once.") % {"count": MAX_FILES}
        )
        return []
    files = []
    for upload in chosen:
        name = safe_filename(upload.filename or "")
        content = await read_upload(upload, settings.evidence_max_bytes)
        try:
            classify(content, name, settings.evidence_max_bytes)
        except EvidenceRefused as refused:
            state.errors.append(
                evidence_refusal(portal, refused, name, settings.evidence_max_bytes)
            )
            continue
        files.append((name, content))
    return files


def unavailable(render: Response) -> Response:
    render.headers["Retry-After"] = "30"
    return render


# --- opening a dispute -------------------------------------------------------------------


def _intake_values(form: FormData) -> dict[str, object]:
    return {
        "reason": text(form, "reason"),
        "lines": [int(v) for v in form.getlist("lines") if isinstance(v, str) and v.isdigit()],
        "amount": text(form, "amount"),
        "description": text(form, "description"),
    }


async def _disputable(session: SessionDep, portal: Portal, submission_id: str = "") -> int:
    """What is left to dispute: the balance less what open disputes contest, other than
    the one this submission opened already (a double submit is answered as the first
    was); 0 for an invoice that cannot be disputed (paid, cancelled, voided)."""
    invoice = portal.invoice
    own = dispute_id_for(submission_id) if submission_id else None
    disputes = await invoice_disputes(session, portal, invoice.id)
    if any(d.dispute_id == own for d in disputes):
        return max(queries.balance_of(invoice), 1)  # the process answers a repeat
    if invoice.voided_at is not None or invoice.status not in DISPUTABLE_STATUSES:
        return 0
    open_minor = sum(d.disputed_minor for d in disputes if d.open)
    return max(queries.balance_of(invoice) - open_minor, 0)


async def _form_page(
    portal: Portal,
    session: SessionDep,
    settings: Settings,
    cookie: str,
    state: FormState,
    status: int = 200,
) -> Response:
    invoice = portal.invoice
    balance = await _disputable(session, portal)
    lines = await _lines(session, invoice.id)
    await session.commit()
    response = render_form(
        portal,
        lines,
        state,
        settings.evidence_max_bytes,
        balance_minor=balance,
        status=status,
    )
    return with_cookie(response, settings, cookie)


@router.get("/invoices/{invoice_id}/disputes/new", response_class=HTMLResponse)
async def dispute_form(
    invoice_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    opened = await open_portal(session, settings, invoice_id, token, accept_language)
    if not isinstance(opened, Portal):
        return opened
    if not await _disputable(session, opened):
        await session.commit()
        return opened.message(409, NOTHING_TO_DISPUTE)
    cookie = browser_cookie(request)
    state = FormState(tickets={"dispute": issue(settings, cookie, invoice_id, "dispute")})
    state.values = {"lines": []}
    return await _form_page(opened, session, settings, cookie, state)


def _check_intake(
    portal: Portal, values: dict[str, object], state: FormState, disputable_minor: int
) -> DisputeIntake | None:
    """The intake the form describes, or None with its errors in `state` (the process
    checks the rest: lines already disputed, an amount above the named lines)."""
    t = portal.t
    reason = str(values["reason"])
    if reason not in {r.value for r in DisputeReason}:
        state.errors.append(t.gettext("Choose what is wrong."))
    description = str(values["description"])
    if not description:
        state.errors.append(t.gettext("Describe the problem."))
    elif len(description) > 4000:
        state.errors.append(t.gettext("The description is too long (4,000 characters at most)."))
    amount_minor = None
    try:
        amount_minor = parse_amount(str(values["amount"]), portal.locale, portal.invoice.currency)
    except ValueError:
        state.errors.append(
            t.gettext("Enter the amount as a number, such as %(example)s.")
            % {"example": portal.formats.money(12050)}
        )
    if amount_minor is not None and amount_minor > disputable_minor:
        state.errors.append(
            t.gettext("The amount is more than the %(balance)s that can be disputed.")
            % {"balance": portal.formats.money(disputable_minor)}
        )
    if state.errors:
        return None
    lines = values["lines"]
    assert isinstance(lines, list)
    return DisputeIntake(
        reason=DisputeReason(reason),
        description=description,
        lines=lines,
        amount_minor=amount_minor,
    )


@router.post("/invoices/{invoice_id}/disputes", response_class=HTMLResponse)
async def open_dispute(
    invoice_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    opened = await open_portal(session, settings, invoice_id, token, accept_language)
    if not isinstance(opened, Portal):
        return opened
    portal = opened
    form = await read_form(request)
    try:
        submission_id = check(settings, request, form, invoice_id, "dispute")
    except FormRefused as refused:
        log.warning(
            "portal.form_refused", invoice_id=invoice_id, form="dispute", why=refused.reason
        )
        return portal.message(403, FORM_REFUSED)
    cookie = request.cookies[COOKIE_NAME]
    # the same submission id again: a corrected form is still one request
    ticket = issue(settings, cookie, invoice_id, "dispute", submission_id=submission_id)
    state = FormState(tickets={"dispute": ticket}, values=_intake_values(form))
    disputable = await _disputable(session, portal, submission_id)
    if not disputable:
        await session.commit()
        return portal.message(409, NOTHING_TO_DISPUTE)
    intake = _check_intake(portal, state.values, state, disputable)
    files = await files_of(portal, form, settings, state)
    if intake is None or state.errors:
        return await _form_page(portal, session, settings, cookie, state, 422)
    await session.commit()  # no read held open across the workflow update
    if temporal is None:
        state.errors.append(portal.t.gettext(UNAVAILABLE[1]))
        return unavailable(await _form_page(portal, session, settings, cookie, state, 503))
    data = OpenDisputeInput(
        request_id=submission_id, intake=intake, channel="portal", opened_by="customer"
    )
    try:
        result = await dispute_service.open_dispute(temporal, settings, invoice_id, data)
        for name, content in files:
            await dispute_service.store_evidence(
                request.app.state.sessions,
                settings,
                dispute_id=result.dispute_id,
                filename=name,
                content=content,
                side="customer",
                added_by="customer",
            )
    except DisputeRefused as refused:
        state.errors.append(refusal(refused.code, refused.message, portal.t, portal.english))
        return await _form_page(portal, session, settings, cookie, state, refused.status)
    except (RPCError, ServiceUnavailable, TimeoutError) as away:
        log.warning("portal.dispute_unavailable", invoice_id=invoice_id, error=str(away))
        state.errors.append(portal.t.gettext(UNAVAILABLE[1]))
        return unavailable(await _form_page(portal, session, settings, cookie, state, 503))
    log.info(
        "portal.dispute_opened",
        invoice_id=invoice_id,
        dispute_id=result.dispute_id,
        created=result.created,
        attachments=len(files),
    )
    return RedirectResponse(portal.url(f"/disputes/{result.dispute_id}", done="opened"), 303)
