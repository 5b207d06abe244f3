"""The mail catcher over HTTP: pages to look at messages, a JSON API for tests to assert on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sandbox.context import SandboxDep
from sandbox.mailbox import addressed_to, attached, parsed, view
from sandbox.pages import render

router = APIRouter(prefix="/mailbox", tags=["mailbox"])

# The e-mail's HTML may contain anything; let it render and open links, never run scripts.
_UNTRUSTED_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
)


@router.get("", response_class=HTMLResponse)
async def mailbox_page(sandbox: SandboxDep) -> HTMLResponse:
    messages = [view(m) for m in reversed(sandbox.store.mails())]
    return render("mailbox.html", messages=messages)


@router.get("/api/messages")
async def list_messages(sandbox: SandboxDep, to: str | None = None) -> JSONResponse:
    """Messages as JSON, oldest first; `to` keeps those with that envelope recipient."""
    mails = sandbox.store.mails()
    if to is not None:
        mails = [m for m in mails if addressed_to(m, to)]
    return JSONResponse([view(m).as_json() for m in mails])


@router.get("/api/messages/{mail_id}/attachments/{index}")
async def attachment(sandbox: SandboxDep, mail_id: int, index: int) -> Response:
    """One attached file's bytes, as sent (its content type, its name)."""
    mail = sandbox.store.mail(mail_id)
    files = attached(parsed(mail)) if mail is not None else []
    if not 0 <= index < len(files):
        return Response(status_code=404)
    part, content = files[index]
    name = part.get_filename() or f"attachment-{index}"
    return Response(
        content,
        media_type=part.get_content_type(),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.delete("/api/messages", status_code=204)
async def clear_messages(sandbox: SandboxDep) -> Response:
    sandbox.store.clear_mail()
    return Response(status_code=204)


@router.get("/{mail_id}", response_class=HTMLResponse)
async def message_page(sandbox: SandboxDep, mail_id: int) -> HTMLResponse:
    mail = sandbox.store.mail(mail_id)
    if mail is None:
        return render("not_found.html", status=404, what=f"message {mail_id}")
    return render("message.html", message=view(mail))


@router.get("/{mail_id}/html", response_class=HTMLResponse)
async def message_html(sandbox: SandboxDep, mail_id: int) -> Response:
    mail = sandbox.store.mail(mail_id)
    if mail is None:
        return Response(status_code=404)
    message = view(mail)
    if message.html is None:
        return Response(
            message.text or "",
            media_type="text/plain",
            headers={"Content-Security-Policy": _UNTRUSTED_CSP},
        )
    return HTMLResponse(message.html, headers={"Content-Security-Policy": _UNTRUSTED_CSP})
