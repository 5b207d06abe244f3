"""One dispute's portal page, and what the customer does there: answer our information
request, accept or decline a proposed remedy, add evidence (see `api.routes.portal_disputes`
for the order every POST is checked in).

The invoice's signed link opens the page of any of the invoice's disputes; a dispute of
another invoice is "not found". Each POST ends in a 303 back to the page with ``done=``
naming what happened, so a reload repeats nothing; a refusal shows the page again with its
message beside the form it concerns.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import Client
from temporalio.service import RPCError

from api import dispute_service
from api.deps import OptionalTemporalDep, SessionDep, SettingsDep
from api.dispute_service import DisputeRefused
from api.errors import ServiceUnavailable
from api.portal_dispute_view import FormState, render_dispute
from api.portal_forms import COOKIE_NAME, FormRefused, browser_cookie, check, issue, text
from api.portal_labels import refusal, words_for
from api.portal_pages import DISPUTE_NOT_FOUND, FORM_REFUSED, UNAVAILABLE, Portal, open_portal, page
from api.routes.portal_disputes import AcceptLanguage, Files, files_of, read_form, with_cookie
from core.settings import Settings
from schemas.dispute_api import DisputeDetail
from schemas.disputes import CustomerReply, DisputeStatus
from store import queries
from store.dispute_reads import dispute_detail

router = APIRouter()
log = structlog.get_logger()

FORMS = ("reply", "remedy", "evidence")
WAITS_FOR = {"reply": DisputeStatus.WAITING_ON_CUSTOMER, "remedy": DisputeStatus.REMEDY_PROPOSED}
# the timeline event a customer's answer writes, and what the page then says (done=)
ANSWERED = {
    "customer_replied": "reply",
    "remedy_accepted": "accepted",
    "remedy_declined": "declined",
}
PATH = "/invoices/{invoice_id}/disputes/{dispute_id}"


async def _open(
    session: SessionDep,
    settings: Settings,
    invoice_id: str,
    dispute_id: str,
    token: str,
    accept_language: str | None,
) -> tuple[Portal, DisputeDetail] | Response:
    opened = await open_portal(session, settings, invoice_id, token, accept_language)
    if not isinstance(opened, Portal):
        return opened
    detail = await dispute_detail(session, dispute_id)
    if detail is None or detail.invoice_id != invoice_id:
        await session.commit()
        return page(404, opened.locale, DISPUTE_NOT_FOUND)
    return opened, detail


async def _page(
    portal: Portal,
    detail: DisputeDetail,
    session: SessionDep,
    settings: Settings,
    cookie: str,
    state: FormState,
    *,
    done: str | None = None,
    status: int = 200,
) -> Response:
    for purpose in FORMS:  # the failed form keeps its ticket (same submission)
        state.tickets.setdefault(
            purpose, issue(settings, cookie, portal.invoice.id, f"{purpose}:{detail.id}")
        )
    lines = (await queries.invoice_records(session, portal.invoice.id))["lines"]
    await session.commit()
    response = render_dispute(
        portal, detail, lines, state, settings.evidence_max_bytes, done=done, status=status
    )
    return with_cookie(response, settings, cookie)


@router.get(PATH, response_class=HTMLResponse)
async def view_dispute(
    invoice_id: str,
    dispute_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: str | None = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    opened = await _open(session, settings, invoice_id, dispute_id, token, accept_language)
    if not isinstance(opened, tuple):
        return opened
    portal, detail = opened
    return await _page(
        portal, detail, session, settings, browser_cookie(request), FormState(), done=done
    )


def _answered(detail: DisputeDetail, submission_id: str) -> str | None:
    """What this submission's answer was, if the timeline has recorded it (its event's
    data names the request id)."""
    for event in detail.events:
        if event.kind in ANSWERED and event.data.get("request_id") == submission_id:
            return ANSWERED[event.kind]
    return None


class _Refusal(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


async def _act(
    purpose: str,
    invoice_id: str,
    dispute_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: Settings,
    temporal: Client | None,
    accept_language: str | None,
) -> Response:
    """Check and carry out one of the page's forms (`purpose`); see the module docstring."""
    opened = await _open(session, settings, invoice_id, dispute_id, token, accept_language)
    if not isinstance(opened, tuple):
        return opened
    portal, detail = opened
    form = await read_form(request)
    try:
        submission_id = check(settings, request, form, invoice_id, f"{purpose}:{dispute_id}")
    except FormRefused as refused:
        log.warning("portal.form_refused", dispute_id=dispute_id, form=purpose, why=refused.reason)
        return portal.message(403, FORM_REFUSED)
    cookie = request.cookies[COOKIE_NAME]
    ticket = issue(settings, cookie, invoice_id, f"{purpose}:{dispute_id}", submission_id)
    state = FormState(
        tickets={purpose: ticket},
        values={"text": text(form, "text"), "comment": text(form, "comment")},
        failed=purpose,
    )
    t = portal.t
    repeat = _answered(detail, submission_id)
    if repeat is not None:  # this form was posted before and its answer is recorded
        await session.commit()
        return RedirectResponse(portal.url(f"/disputes/{dispute_id}", done=repeat), 303)
    files: Files = await files_of(portal, form, settings, state) if purpose != "remedy" else []
    decision = text(form, "decision")
    if purpose == "reply" and not state.values["text"] and not files and not state.errors:
        state.errors.append(words_for("empty_reply", t))
    elif purpose == "remedy" and decision not in ("accept", "decline"):
        state.errors.append(words_for("answer_required", t))
    elif purpose == "evidence" and detail.status == DisputeStatus.RESOLVED:
        state.errors.append(words_for("dispute_closed", t))
    elif purpose == "evidence" and not files and not state.errors:
        state.errors.append(t.gettext("Choose at least one file."))
    if WAITS_FOR.get(purpose) not in (None, detail.status):
        # Not what the dispute waits for now (as far as the page knows): a repeat of a
        # post the process took already, or a late one. Its update decides, and gets the
        # first answer or a refusal; no file is stored before it has.
        files = []
    if state.errors:
        return await _page(portal, detail, session, settings, cookie, state, status=422)
    await session.commit()
    try:
        done = await _carry_out(
            purpose,
            portal,
            detail,
            request,
            settings,
            temporal,
            submission_id,
            files,
            decision,
            str(state.values["text"] or state.values["comment"]),
        )
    except _Refusal as refused:
        state.errors.append(refused.message)
        response = await _page(
            portal, detail, session, settings, cookie, state, status=refused.status
        )
        if refused.status == 503:
            response.headers["Retry-After"] = "30"
        return response
    return RedirectResponse(portal.url(f"/disputes/{dispute_id}", done=done), 303)


async def _carry_out(
    purpose: str,
    portal: Portal,
    detail: DisputeDetail,
    request: Request,
    settings: Settings,
    temporal: Client | None,
    submission_id: str,
    files: Files,
    decision: str,
    said: str,
) -> str:
    """The action itself; what `done=` says on the page, or `_Refusal`."""
    if purpose != "evidence" and temporal is None:
        raise _Refusal(portal.t.gettext(UNAVAILABLE[1]), 503)
    try:
        evidence_ids = [
            (
                await dispute_service.store_evidence(
                    request.app.state.sessions,
                    settings,
                    dispute_id=detail.id,
                    filename=name,
                    content=content,
                    side="customer",
                    added_by="customer",
                )
            ).evidence_id
            for name, content in files
        ]
        if purpose == "evidence":
            log.info("portal.evidence_added", dispute_id=detail.id, files=len(files))
            return "evidence"
        assert temporal is not None
        accept = None if purpose == "reply" else decision == "accept"
        reply = CustomerReply(
            request_id=submission_id, text=said, accept=accept, evidence_ids=evidence_ids
        )
        await dispute_service.customer_reply(temporal, settings, detail.id, reply)
    except DisputeRefused as refused:
        raise _Refusal(
            refusal(refused.code, refused.message, portal.t, portal.english), refused.status
        ) from refused
    except (RPCError, ServiceUnavailable, TimeoutError) as away:
        log.warning("portal.dispute_unavailable", dispute_id=detail.id, error=str(away))
        raise _Refusal(portal.t.gettext(UNAVAILABLE[1]), 503) from away
    log.info("portal.customer_replied", dispute_id=detail.id, form=purpose, accept=accept)
    if purpose == "reply":
        return "reply"
    return "accepted" if accept else "declined"


@router.post(PATH + "/reply", response_class=HTMLResponse)
async def reply(
    invoice_id: str,
    dispute_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    return await _act(
        "reply",
        invoice_id,
        dispute_id,
        token,
        request,
        session,
        settings,
        temporal,
        accept_language,
    )


@router.post(PATH + "/remedy", response_class=HTMLResponse)
async def remedy(
    invoice_id: str,
    dispute_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    return await _act(
        "remedy",
        invoice_id,
        dispute_id,
        token,
        request,
        session,
        settings,
        temporal,
        accept_language,
    )


@router.post(PATH + "/evidence", response_class=HTMLResponse)
async def evidence(
    invoice_id: str,
    dispute_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    return await _act(
        "evidence",
        invoice_id,
        dispute_id,
        token,
        request,
        session,
        settings,
        temporal,
        accept_language,
    )
