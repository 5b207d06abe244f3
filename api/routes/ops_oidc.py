"""Operators sign in through the OpenID Connect provider of the settings
(GET /ops/oidc/sign-in, GET /ops/oidc/callback).

Registered only when ``INVOICEFLOW_OPS_OIDC_ISSUER`` is set: otherwise these paths do not
exist (404) and the sign-in page shows the password form alone.

The sign-in redirects to the provider with state, nonce and a PKCE challenge, and keeps
them in a signed cookie for ten minutes. The callback takes that cookie once, whatever
happens: the provider's error (the operator said no), a state that is not this browser's,
a refused code exchange, an ID token that fails a check, a provider that does not answer,
or an e-mail address that is not an active operator's, each is a page that says so and
signs nobody in. Only then is the session the same cookie as a password sign-in's.
"""

from __future__ import annotations

import hmac
import shlex

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import ops_oidc
from api.operator_session import (
    end_oidc_flow,
    oidc_flow,
    set_oidc_flow,
    sign_in,
    signed_in_operator,
)
from api.ops_oidc import Identity, SignInFailed
from api.ops_web import SIGN_IN_PATH, render, safe_next, settings_of
from schemas.operator_tables import OperatorRow
from store import operators

router = APIRouter(prefix="/ops/oidc", tags=["ops"], include_in_schema=False)
log = structlog.get_logger()


def _failure(request: Request, failed: SignInFailed) -> Response:
    log.info("ops.oidc_sign_in_refused", reason=failed.reason)
    response = render(
        request,
        "ops_message.html",
        status=failed.status,
        title=failed.title,
        message=failed.message,
        command=failed.command,
        back=SIGN_IN_PATH,
        back_label="Back to sign-in",
        clean_url=True,  # the page drops the callback's code and state from the address bar
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # nor hands them on in a Referer
    end_oidc_flow(response, settings_of(request))
    return response


@router.get("/sign-in")
async def oidc_sign_in(request: Request, next: str = "") -> Response:  # noqa: A002
    if await signed_in_operator(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    try:
        url, flow = await ops_oidc.begin(request, safe_next(next))
    except SignInFailed as failed:
        return _failure(request, failed)
    response = RedirectResponse(url, status_code=303)
    set_oidc_flow(response, settings_of(request), flow)
    return response


@router.get("/callback")
async def oidc_callback(
    request: Request,
    code: str = "",
    state: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    settings = settings_of(request)
    provider = settings.ops_oidc_display_name
    flow = oidc_flow(request)
    if flow is None and await signed_in_operator(request) is not None:
        # the callback again after it signed this browser in (Back, a reload): no error
        # page saying nobody is signed in, the dashboards
        return RedirectResponse(safe_next(None), status_code=303)
    if error:
        error = error[:64]  # the provider's word, shown back: a code, not an essay
        cancelled = error == "access_denied"
        return _failure(
            request,
            SignInFailed(
                401,
                "Sign-in cancelled" if cancelled else "The sign-in was not completed",
                f"{provider} did not sign you in"
                + (" because the sign-in was declined there." if cancelled else f" ({error}).")
                + " Nobody was signed in. Start again from the sign-in page.",
                f"provider: {error}",
            ),
        )
    if flow is None or not state or not hmac.compare_digest(state, flow.get("state", "")):
        return _failure(
            request,
            SignInFailed(
                400,
                "This sign-in cannot be finished",
                "It was started in another browser or too long ago, or its link was"
                " changed. Nobody was signed in. Start again from the sign-in page.",
                "bad state" if flow is not None else "no flow cookie",
            ),
        )
    if not code:
        return _failure(
            request,
            SignInFailed(
                400,
                "The sign-in was not completed",
                f"{provider} sent you back without a sign-in code. Nobody was signed in."
                " Start again from the sign-in page.",
                "no code",
            ),
        )
    try:
        identity = await ops_oidc.finish(request, flow, code)
        row = await _operator_for(request, identity, provider)
    except SignInFailed as failed:
        return _failure(request, failed)
    log.info("ops.signed_in", operator_id=row.id, method="oidc")
    response = RedirectResponse(safe_next(flow.get("next")), status_code=303)
    sign_in(response, settings, row)
    end_oidc_flow(response, settings)
    return response


def _refused(
    message: str, reason: str, command: str | None = None, title: str = "No operator account"
) -> SignInFailed:
    return SignInFailed(403, title, message, reason, command)


async def _operator_for(request: Request, identity: Identity, provider: str) -> OperatorRow:
    if identity.email is None:
        raise _refused(
            f"{provider} did not say which e-mail address you signed in with, so no"
            " operator account can be matched. An admin must add the email scope"
            " (INVOICEFLOW_OPS_OIDC_SCOPES).",
            "no email claim",
        )
    email = operators.normalize_email(identity.email)
    if identity.email_verified is False:
        raise _refused(
            f"{provider} has not verified the e-mail address {email}, so it cannot open"
            " an operator account. Verify it there, then start again.",
            "email not verified",
        )
    async with request.app.state.sessions() as session:
        row = await operators.find_by_email(session, email)
        await session.commit()  # end the read at once
    if row is None:
        name = identity.name or "Their Name"
        raise _refused(
            f"There is no operator account for {email}. Ask an admin to create one:",
            "unknown operator",
            f"invoiceflow operators create --email {shlex.quote(email)} --name {shlex.quote(name)}",
        )
    if not row.active:
        raise _refused(
            f"The operator account for {email} is deactivated. Ask an admin if it"
            " should be active again.",
            "inactive operator",
            title="Operator account deactivated",
        )
    return row
