"""An OpenID Connect provider (the code flow with PKCE), for the ops pages' sign-in.

The issuer is ``{public_url}/oidc``: discovery at ``/oidc/.well-known/openid-configuration``,
``/oidc/authorize`` (no login page: it sends the browser straight back with a code for the
scenario's person, or with ``error=access_denied``), ``/oidc/token`` (client_secret_basic
or client_secret_post; the code, its redirect URI and the PKCE S256 verifier must all
match) and ``/oidc/jwks``. Who signs in, and how the ID token is spoiled, is the
scenario of ``POST /_sandbox/oidc`` (`sandbox.control`). Faults with ``"api": "oidc"``
(or ``"*"``) apply to every endpoint; every call is in the call log (``api=oidc``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from sandbox.context import SandboxContext, SandboxDep
from sandbox.gate import problem
from sandbox.oidc import TokenRefused
from sandbox.state import CallRecord, utcnow

API = "oidc"

router = APIRouter(prefix="/oidc", tags=["oidc"])


def issuer(sandbox: SandboxContext) -> str:
    return f"{sandbox.settings.public_base_url}/oidc"


def _record(
    sandbox: SandboxContext,
    request: Request,
    status: int,
    *,
    body: Any = None,
    answer: Any = None,
    effect: bool = False,
    note: str | None = None,
) -> None:
    sandbox.store.record_call(
        CallRecord(
            api=API,
            method=request.method,
            path=request.url.path,
            idempotency_key=None,
            request_body=body,
            status=status,
            response_body=answer,
            at=utcnow(),
            replayed=False,
            effect=effect,
            note=note,
        )
    )


async def _fault(sandbox: SandboxContext, request: Request) -> Response | None:
    decision = sandbox.faults.decide(API)
    if decision.latency_s:
        await asyncio.sleep(decision.latency_s)
    if decision.failure is None:
        return None
    status = 503 if decision.failure == "outage" else 500
    body = problem(status, "Injected outage" if status == 503 else "Injected error")
    _record(sandbox, request, status, answer=body, note=decision.failure)
    return JSONResponse(body, status, media_type="application/problem+json")


@router.get("/.well-known/openid-configuration")
async def discovery(request: Request, sandbox: SandboxDep) -> Response:
    if (failed := await _fault(sandbox, request)) is not None:
        return failed
    base = issuer(sandbox)
    document = {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            *("sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name")
        ],
    }
    _record(sandbox, request, 200)
    return JSONResponse(document)


@router.get("/jwks")
async def jwks(request: Request, sandbox: SandboxDep) -> Response:
    if (failed := await _fault(sandbox, request)) is not None:
        return failed
    _record(sandbox, request, 200)
    return JSONResponse(sandbox.oidc.jwks())


def _redirect_allowed(sandbox: SandboxContext, uri: str) -> bool:
    allowed = sandbox.settings.oidc_redirect_uris
    if allowed is not None:
        return uri in allowed
    return uri.startswith(("http://", "https://"))


@router.get("/authorize")
async def authorize(request: Request, sandbox: SandboxDep) -> Response:
    """The browser arrives from the client; it leaves at once, back to redirect_uri."""
    if (failed := await _fault(sandbox, request)) is not None:
        return failed
    query = request.query_params
    asked = {k: v for k, v in query.items() if k != "code_challenge"}
    client_id = query.get("client_id")
    uri = query.get("redirect_uri", "")
    state = query.get("state")
    if client_id != sandbox.settings.oidc_client_id or not _redirect_allowed(sandbox, uri):
        # never redirect to an unregistered URI (RFC 6749 4.1.2.1): say so here
        body = problem(400, "Unknown client or redirect_uri")
        _record(sandbox, request, 400, body=asked, answer=body, note="rejected")
        return JSONResponse(body, 400, media_type="application/problem+json")

    def back(**params: str) -> Response:
        if state is not None:
            params["state"] = state
        separator = "&" if "?" in uri else "?"
        effect, note = "code" in params, params.get("error")
        _record(sandbox, request, 302, body=asked, answer=params, effect=effect, note=note)
        return RedirectResponse(f"{uri}{separator}{urlencode(params)}", status_code=302)

    scenario = sandbox.oidc.scenario
    scope = query.get("scope", "")
    if query.get("response_type") != "code":
        return back(error="unsupported_response_type")
    if "openid" not in scope.split():
        return back(error="invalid_scope", error_description="openid is required")
    if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
        return back(error="invalid_request", error_description="PKCE with S256 is required")
    if scenario.deny:
        return back(error="access_denied", error_description="The user declined")
    code = sandbox.oidc.issue_code(
        client_id=client_id,
        redirect_uri=uri,
        code_challenge=query["code_challenge"],
        nonce=query.get("nonce"),
        scope=scope,
    )
    return back(code=code)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic (RFC 6749 2.3.1: form-urlencoded id and secret) or _post."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id"), form.get("client_secret")


@router.post("/token")
async def token(request: Request, sandbox: SandboxDep) -> Response:
    if (failed := await _fault(sandbox, request)) is not None:
        return failed
    form = {k: str(v) for k, v in (await request.form()).items()}
    logged = {k: v for k, v in form.items() if k in ("grant_type", "redirect_uri", "client_id")}
    settings = sandbox.settings
    client_id, secret = _client_credentials(request, form)
    try:
        if client_id != settings.oidc_client_id or not hmac.compare_digest(
            (secret or "").encode(), settings.oidc_client_secret.encode()
        ):
            raise TokenRefused("invalid_client", "unknown client or wrong secret", 401)
        if form.get("grant_type") != "authorization_code":
            raise TokenRefused("unsupported_grant_type", "only authorization_code")
        grant = sandbox.oidc.redeem(
            code=form.get("code", ""),
            client_id=client_id,
            redirect_uri=form.get("redirect_uri"),
            code_verifier=form.get("code_verifier"),
        )
    except TokenRefused as refused:
        body = {"error": refused.error, "error_description": refused.description}
        _record(sandbox, request, refused.status, body=logged, answer=body, note=refused.error)
        headers = {"WWW-Authenticate": "Basic"} if refused.status == 401 else None
        return JSONResponse(body, refused.status, headers=headers)
    answer = sandbox.oidc.tokens(grant, issuer=issuer(sandbox), client_id=client_id)
    spoiled = grant.scenario.id_token
    _record(
        sandbox,
        request,
        200,
        body=logged,
        answer={"email": grant.scenario.email, "id_token": spoiled, "scope": grant.scope},
        effect=True,
        note=None if spoiled == "valid" else spoiled,
    )
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
