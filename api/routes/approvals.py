"""Approval links: GET shows a confirmation page (it changes nothing, so mail scanners
that prefetch links do no harm); POST applies the decision through the invoice
workflow's `decide` update, whose validator refuses a wrong click before it reaches
history. Plain HTML that works without JavaScript; JSON for `Accept: application/json`."""

from __future__ import annotations

from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.approval_page import page_context
from api.deps import OptionalTemporalDep, SessionDep, SettingsDep
from api.errors import TEMPORAL_AWAY, UPDATE_TIMEOUT
from api.live_state import live_state
from api.openapi import DECISION_BODY, LINK_RESPONSES
from core.links import ApprovalLink, InvalidLink, read_approval_token
from rendering.i18n import N_, environment, html_lang, negotiate, translations
from rendering.labels import status_label
from schemas.approval import DecideInput, DecideResult
from schemas.ids import invoice_workflow_id
from schemas.tables import Invoice
from store import approvals
from store.approvals import LinkEventKind
from store.db import begin_write

router = APIRouter(prefix="/approvals", tags=["approval links"])
log = structlog.get_logger()
# What each refusal tells the person who clicked, and its HTTP status. The messages are
# translated (rendering/locales) into the language the browser asks for (Accept-Language).
REFUSALS: dict[str, tuple[int, str]] = {
    "already_decided": (409, N_("This approval has already been decided.")),
    "not_your_approval": (403, N_("This approval is not yours to decide.")),
    "version_changed": (
        409,
        N_("The invoice changed since this link was sent. A new link is on its way to you."),
    ),
    "level_not_active": (409, N_("This approval level is no longer active.")),
    "chain_closed": (409, N_("This invoice's approval is already settled.")),
    "duplicate_level_approver": (409, N_("You already approved another level of this invoice.")),
    "expired": (410, N_("This link has expired. Ask for a new one.")),
    "invalid": (400, N_("This link is not valid.")),
    "not_found": (404, N_("We could not find this invoice.")),
}
OUTCOMES = {
    "applied": N_("Your approval is recorded; the level still waits for other approvers."),
    "level_complete": N_("Approved. The next approval level has been asked."),
    "chain_complete": N_("Approved. The invoice will now be sent to the customer."),
    "rejected": N_("Rejected. The invoice goes back for correction."),
    "changes_requested": N_("Changes requested. The invoice's owner has your note."),
}


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject", "request_changes"]
    reason: str | None = Field(default=None, max_length=2000)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _answer(request: Request, status: int, code: str, message: str, **extra: Any) -> Response:
    locale = negotiate(request.headers.get("accept-language"))
    t = translations(locale)
    message = t.gettext(message)
    if _wants_json(request):
        return JSONResponse({"code": code, "message": message, **extra}, status_code=status)
    html = (
        environment(locale, "api")
        .get_template("approval_result.html")
        .render(
            message=message,
            code=code,
            lang=html_lang(locale),
            status_label=lambda status: status_label(status, t),
            **extra,
        )
    )
    return HTMLResponse(html, status_code=status)


def _refusal(request: Request, code: str, **extra: Any) -> Response:
    status, message = REFUSALS.get(code, (409, N_("This decision cannot be applied.")))
    return _answer(request, status, code, message, **extra)


def _unavailable(request: Request, maybe_taken: bool = False) -> Response:
    message = (
        N_(
            "We could not confirm your decision just now. Open the link again in a minute: it"
            " shows whether your decision was recorded."
        )
        if maybe_taken
        else N_(
            "We could not record your decision just now. Nothing was decided; please try"
            " the link again in a minute."
        )
    )
    response = _answer(request, 503, "temporal_unavailable", message)
    response.headers["Retry-After"] = "30"
    return response


def _client(request: Request) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None), request.headers.get("user-agent")


def _read(settings: SettingsDep, token: str) -> ApprovalLink:
    return read_approval_token(
        settings.link_signing_secret.get_secret_value(), token, settings.approval_link_max_age_s
    )


async def _log_event(
    session: SessionDep, link: ApprovalLink, event: LinkEventKind, request: Request, **detail: Any
) -> None:
    ip, agent = _client(request)
    await begin_write(session)
    await approvals.record_link_event(
        session,
        request_id=link.request_id,
        event=event,
        ip=ip,
        user_agent=agent,
        detail=detail,  # type: ignore[arg-type]
    )
    await session.commit()


@router.get("/{token}", response_class=HTMLResponse, responses=LINK_RESPONSES)
async def confirm(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Response:
    try:
        link = _read(settings, token)
    except InvalidLink as bad:
        return _refusal(request, bad.reason)
    invoice = await session.get(Invoice, link.invoice_id)
    if invoice is None:
        return _refusal(request, "not_found")
    await session.commit()
    await _log_event(session, link, "opened", request)
    # Temporal or every worker away: the page still shows the stored invoice
    live = await live_state(temporal, link.invoice_id, settings.temporal_query_timeout_s)
    state = live.model_dump(mode="json") if live else {}
    locale = negotiate(request.headers.get("accept-language"))
    shown = await page_context(session, link, invoice, state or {}, locale)
    await session.commit()
    if _wants_json(request):
        return JSONResponse(
            {
                "invoice": shown["summary"],
                "lines": shown["lines"],
                "taxes": shown["taxes"],
                "approval": shown["approval"],
                "decided": shown["decided"],
            }
        )
    html = (
        environment(locale, "api")
        .get_template("approval_confirm.html")
        .render(**shown, action=str(request.url.path), lang=html_lang(locale))
    )
    return HTMLResponse(html)


async def _decision_body(request: Request) -> DecisionBody | None:
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            return DecisionBody.model_validate_json(await request.body())
        form = await request.form()
        return DecisionBody(decision=form.get("decision"), reason=form.get("reason") or None)  # type: ignore[arg-type]
    except ValueError:
        return None


@router.post("/{token}", responses=LINK_RESPONSES, openapi_extra=DECISION_BODY)
async def decide(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Response:
    try:
        link = _read(settings, token)
    except InvalidLink as bad:
        return _refusal(request, bad.reason)
    body = await _decision_body(request)
    if body is None:
        return _answer(
            request, 422, "invalid_decision", N_("Choose approve, reject or request changes.")
        )
    if body.decision != "approve" and not (body.reason or "").strip():
        return _answer(request, 422, "reason_required", N_("Please give a reason."))
    ip, agent = _client(request)
    if temporal is None:
        return _unavailable(request)
    handle = temporal.get_workflow_handle(invoice_workflow_id(link.invoice_id))
    try:
        result = await handle.execute_update(
            "decide",
            DecideInput(
                decision=body.decision,
                reason=body.reason,
                approver_id=link.approver_id,
                level_index=link.level,
                round=link.round,
                version=link.version,
                request_id=link.request_id,
                ip=ip,
                user_agent=agent,
            ),
            result_type=DecideResult,
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        code = cause.type if isinstance(cause, ApplicationError) and cause.type else "refused"
        earlier = (
            cause.details[0] if isinstance(cause, ApplicationError) and cause.details else None
        )
        await _log_event(session, link, "refused", request, code=code)
        return _refusal(request, code, earlier=earlier)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            # no running process: an invoice that was issued, closed or cancelled meanwhile
            # is settled, not missing
            ended = await session.get(Invoice, link.invoice_id) is not None
            await session.commit()
            return _refusal(request, "chain_closed" if ended else "not_found")
        if err.status in TEMPORAL_AWAY:
            return _unavailable(request)
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        # taken or not, nobody answered: say so, and let the link tell on the next click
        return _unavailable(request, maybe_taken=True)
    if result.outcome not in OUTCOMES:  # refused inside the handler (two clicks in one task)
        await _log_event(session, link, "refused", request, code=result.outcome)
        earlier = result.earlier.model_dump(mode="json") if result.earlier else None
        return _refusal(request, result.outcome, earlier=earlier)
    log.info("approval.decided", invoice_id=link.invoice_id, outcome=result.outcome)
    return _answer(
        request, 200, result.outcome, OUTCOMES[result.outcome], invoice_status=result.status
    )
