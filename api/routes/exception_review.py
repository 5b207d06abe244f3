"""The exception review page an owner opens from the signed link in the task e-mail.

GET shows the exception (the invoice's lines beside the PO lines and the receipts, each
line's variance, the reasons in words, the owner and when it escalates) and changes
nothing, so a mail scanner that prefetches the link does no harm. POST applies the chosen
resolution (accept the variance, correct the invoice's lines or PO number, wait for the
customer, cancel the invoice) through the invoice workflow's `resolve_exception` update,
as the person the link names (a correction's form: `api.exception_corrections`).

No CSRF token: as on the approval page, the signed token in the URL is the credential
(bound to one exception and one person, expiring after `exception_link_max_age_s`), and
another site cannot know it to forge a POST to it. The workflow's validator refuses
whatever is not this person's to do, so a replayed or second POST is answered honestly:
"already resolved", and nothing changes.

Plain HTML, no JavaScript, readable on a phone; English, for staff. Not in the OpenAPI
document: a page for a person, like the portal (the JSON API is `/exceptions`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData
from temporalio.service import RPCError

from api.deps import OptionalTemporalDep, SessionDep, SettingsDep
from api.errors import TEMPORAL_AWAY, ServiceUnavailable
from api.exception_actions import CLOSED, REFUSALS, ResolutionRefused, resolve
from api.exception_corrections import (
    CorrectionRefused,
    PageCorrection,
    correction_from_form,
    form_lines,
)
from api.exception_page import LOCALE, page_context, resolved_panel, status_words
from api.exception_view import detail
from core.links import InvalidLink, TaskLink, read_task_token
from rendering.i18n import environment
from schemas.matching import ResolveExceptionInput
from schemas.tables import ApproverGroupRow, ApproverRow
from store.exception_reads import ListedException, get_exception

router = APIRouter(prefix="/exception-review", tags=["exception links"], include_in_schema=False)
log = structlog.get_logger()

PAGE_CHOICES = ("accept_variance", "correct", "wait", "cancel")

# What each refusal tells the person who clicked; its status is api.exception_actions'.
REFUSAL_WORDS: dict[str, tuple[str, str]] = {
    "not_your_task": (
        "Not yours to resolve",
        "This exception is assigned to someone else now, so this link cannot resolve it.",
    ),
    "task_closed": ("Already resolved", "This exception has already been resolved."),
    "task_expired": (
        "Expired",
        "Nobody resolved this exception in time; operations resolve it now.",
    ),
    "justification_required": (
        "A justification is needed",
        "Accepting a variance or cancelling an invoice needs a justification. Go back and"
        " write one.",
    ),
    "not_acceptable": (
        "This cannot be accepted",
        "An invoice without a valid PO of its customer cannot go out as it is: correct its"
        " PO number, or cancel it.",
    ),
    "choice_not_allowed": ("Not possible", "That is not a resolution of this exception."),
}
OUTCOMES: dict[str, tuple[str, str]] = {
    "accept_variance": (
        "Variance accepted",
        "The invoice is released: it goes on to its customer with your justification.",
    ),
    "wait": (
        "Waiting for the customer",
        "The exception stays with you until the customer amends the PO or a delivery is"
        " recorded; the invoice is matched again as soon as one arrives.",
    ),
    "cancel": ("Invoice cancelled", "The invoice is withdrawn; it will not be sent."),
    "correct": (
        "Invoice corrected",
        "The invoice was corrected and is being matched against its PO again: it goes on by"
        " itself if it now matches; if not, a new exception says what still differs.",
    ),
}


def _render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment(LOCALE, "api").get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)


def _message(status: int, title: str, message: str, **context: Any) -> HTMLResponse:
    return _render("exception_result.html", status, title=title, message=message, **context)


def _bad_link(reason: str) -> HTMLResponse:
    if reason == "expired":
        return _message(
            410,
            "Link expired",
            "This link has expired. The exception's owner can ask for a new one.",
        )
    return _message(400, "Invalid link", "This link is not valid. Open it from the e-mail again.")


def _not_found() -> HTMLResponse:
    return _message(404, "Not found", "We could not find this exception.")


def _unavailable(maybe_taken: bool = False) -> HTMLResponse:
    message = (
        "We could not confirm your choice just now. Open the link again in a minute: it shows"
        " whether it was recorded."
        if maybe_taken
        else "We could not record your choice just now. Nothing was changed; please try again"
        " in a minute."
    )
    response = _message(503, "Please try again shortly", message)
    response.headers["Retry-After"] = "30"
    return response


async def _open(
    session: SessionDep, settings: SettingsDep, token: str
) -> tuple[TaskLink, ListedException] | HTMLResponse:
    try:
        link = read_task_token(
            settings.link_signing_secret.get_secret_value(),
            token,
            settings.exception_link_max_age_s,
        )
    except InvalidLink as bad:
        return _bad_link(bad.reason)
    listed = await get_exception(session, link.task_id)
    if listed is None:
        await session.commit()
        return _not_found()
    return link, listed


async def _names(session: SessionDep, *people: str | None) -> dict[str, str]:
    """Names of the approvers among `people` (actor ids; an operator's without its prefix)."""
    names = {}
    for person in {p.removeprefix("operator:") for p in people if p}:
        row = await session.get(ApproverRow, person)
        if row is not None:
            names[person] = row.name
    return names


@router.get("/{token}", response_class=HTMLResponse)
async def review(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    opened = await _open(session, settings, token)
    if isinstance(opened, HTMLResponse):
        return opened
    link, listed = opened
    now = datetime.now(UTC)
    shown = await detail(session, listed, now)
    names = await _names(session, link.person_id, shown.resolved_by)
    group = await session.get(ApproverGroupRow, shown.group_id) if shown.group_id else None
    po_number, correctable = await form_lines(session, listed.row.invoice_id)
    await session.commit()
    context = page_context(
        shown,
        person_id=link.person_id,
        person_name=names.get(link.person_id),
        group_name=group.name if group else None,
        names=names,
        now=now,
    )
    return _render(
        "exception_review.html",
        action=str(request.url.path),
        correction_po_number=po_number,
        correction_currency=shown.currency,
        correction_lines=correctable,
        **context,
    )


async def _closed_page(
    session: SessionDep, exception_id: str, code: str, back: str
) -> HTMLResponse:
    """The exception was settled: say how, as the store has it now."""
    listed = await get_exception(session, exception_id)
    await session.commit()
    resolved = None
    if listed is not None and listed.row.status != "open":
        shown = await detail(session, listed, datetime.now(UTC))
        names = await _names(session, shown.resolved_by)
        await session.commit()
        resolved = resolved_panel(shown, names)
    title, message = REFUSAL_WORDS["task_closed"]
    return _message(
        REFUSALS[code][0],
        title,
        message,
        resolved=resolved,
        exception_id=exception_id,
        back=back,
    )


async def _form(request: Request) -> tuple[str, str | None, FormData]:
    form = await request.form()
    resolution, justification = form.get("resolution"), form.get("justification")
    return (
        resolution if isinstance(resolution, str) else "",
        justification if isinstance(justification, str) and justification else None,
        form,
    )


@router.post("/{token}", response_class=HTMLResponse)
async def resolve_from_link(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> HTMLResponse:
    opened = await _open(session, settings, token)
    if isinstance(opened, HTMLResponse):
        return opened
    link, listed = opened
    row, back = listed.row, str(request.url.path)
    await session.commit()
    if row.status != "open":
        return await _closed_page(session, row.id, "task_closed", back)
    resolution, justification, form = await _form(request)
    if resolution not in PAGE_CHOICES:
        return _message(
            422,
            "Choose what to do",
            "Choose accept, correct, wait or cancel.",
            exception_id=row.id,
            back=back,
        )
    correction = PageCorrection()
    if resolution == "correct":
        try:
            correction = await correction_from_form(session, row.invoice_id, form)
        except CorrectionRefused as refused:
            return _message(
                422, "The correction cannot be made", str(refused), exception_id=row.id, back=back
            )
        finally:
            await session.commit()  # hold no read transaction while talking to Temporal
    try:
        data = ResolveExceptionInput(
            person_id=link.person_id,
            exception_id=row.id,
            resolution=resolution,  # type: ignore[arg-type]  # one of PAGE_CHOICES
            justification=justification,
            items=correction.items,
            lines=correction.lines,
            po_number=correction.po_number,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
    except ValueError:
        return _message(
            422,
            "Too long",
            "The justification is longer than 2,000 characters.",
            exception_id=row.id,
            back=back,
        )
    if temporal is None:
        return _unavailable()
    try:
        result = await resolve(temporal, row, data)
    except ResolutionRefused as refused:
        log.info("exception.link_refused", exception_id=row.id, code=refused.code)
        if refused.code in CLOSED:
            return await _closed_page(session, row.id, refused.code, back)
        title, message = REFUSAL_WORDS.get(refused.code, ("Not possible", refused.detail))
        return _message(refused.status, title, message, exception_id=row.id, back=back)
    except ServiceUnavailable:  # no worker took it in time: it may yet be applied
        return _unavailable(maybe_taken=True)
    except RPCError as err:
        if err.status in TEMPORAL_AWAY:
            return _unavailable()
        raise
    log.info("exception.link_resolved", exception_id=row.id, resolution=result.resolution)
    title, message = OUTCOMES[result.resolution]
    return _message(
        200,
        title,
        message,
        exception_id=row.id,
        invoice_status=status_words(result.status),
        back=back if result.resolution == "wait" else None,
    )
