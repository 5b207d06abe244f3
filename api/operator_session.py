"""Who is signed in to the ops pages: a signed session cookie, checked against the database.

The cookie holds the operator's id, a fingerprint of their credentials (password hash and
when it last changed) and a random session id, signed and timestamped with itsdangerous
under a salt of its own (so no link token or other signed value of the app can pass for
it). Every request re-reads the operator: a deactivated operator, or one whose password
changed, is signed out at their next click, and a cookie older than
`ops_session_max_age_s` is refused whatever its browser kept.

`signed_in_operator` is the one check every ops route (and the codec server) uses. API
keys and portal or approval tokens are never looked at here: only this cookie opens the
ops pages.

A sign-in through an OpenID Connect provider (`api.routes.ops_oidc`) keeps its state,
nonce and PKCE verifier between the redirect out and the callback in a second cookie,
signed by the same serializer under a salt of its own and good for `OIDC_FLOW_MAX_AGE_S`;
it ends in the same session cookie as a password sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.settings import Settings
from schemas.operator_tables import OperatorRow
from store import operators

COOKIE_NAME = "invoiceflow_ops"
# the sign-in form's own CSRF nonce, before there is a session to bind a token to
PRE_SESSION_COOKIE = "invoiceflow_ops_pre"
# an OpenID Connect sign-in under way (sent only to its callback)
OIDC_FLOW_COOKIE = "invoiceflow_ops_oidc"
OIDC_FLOW_PATH = "/ops/oidc/"
OIDC_FLOW_MAX_AGE_S = 600
COOKIE_PATH = "/"
_SESSION_SALT = "invoiceflow.ops-session"
_OIDC_FLOW_SALT = "invoiceflow.ops-oidc-flow"
_CSRF_SALT = b"invoiceflow.ops-csrf"


@dataclass(frozen=True)
class Operator:
    """The signed-in operator, as routes and templates see them."""

    id: str
    email: str
    name: str
    session_id: str = ""  # the cookie's random id: what CSRF tokens are bound to


def _secret(settings: Settings) -> str:
    return settings.link_signing_secret.get_secret_value()


def _serializer(settings: Settings, salt: str = _SESSION_SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(settings), salt=salt)


def max_age_s(settings: Settings) -> int:
    return settings.ops_session_max_age_s


def fingerprint(row: OperatorRow) -> str:
    """Changes when the password does (a new hash, a new time): old cookies stop working."""
    basis = f"{row.id}|{row.password_hash or ''}|{row.password_changed_at.isoformat()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def session_cookie(settings: Settings, row: OperatorRow) -> str:
    """The cookie value that signs `row` in: what the sign-in route sets, and tests use."""
    payload = {"op": row.id, "fp": fingerprint(row), "sid": secrets.token_urlsafe(16)}
    return _serializer(settings).dumps(payload)


def secure_cookies(settings: Settings) -> bool:
    return settings.environment != "development"


def _set(
    response: Response,
    settings: Settings,
    name: str,
    value: str,
    max_age: int,
    path: str = COOKIE_PATH,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def sign_in(response: Response, settings: Settings, row: OperatorRow) -> None:
    _set(response, settings, COOKIE_NAME, session_cookie(settings, row), max_age_s(settings))
    response.delete_cookie(PRE_SESSION_COOKIE, path=COOKIE_PATH)


def sign_out(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def _payload(settings: Settings, value: str) -> dict[str, Any] | None:
    try:
        data = _serializer(settings).loads(value, max_age=max_age_s(settings))
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("op", "fp", "sid")
    ):
        return None
    return data


async def signed_in_operator(request: Request) -> Operator | None:
    """The operator this request's session cookie signs in, if it still may; else None."""
    if hasattr(request.state, "ops_operator"):
        cached: Operator | None = request.state.ops_operator
        return cached
    operator = await _read(request)
    request.state.ops_operator = operator
    return operator


async def _read(request: Request) -> Operator | None:
    value = request.cookies.get(COOKIE_NAME)
    if not value:
        return None
    settings: Settings = request.app.state.settings
    data = _payload(settings, value)
    if data is None:
        return None
    async with request.app.state.sessions() as session:
        row = await operators.get(session, data["op"])
        await session.commit()  # end the read at once
    if row is None or not row.active or not hmac.compare_digest(fingerprint(row), data["fp"]):
        return None
    return Operator(id=row.id, email=row.email, name=row.name, session_id=data["sid"])


# -- an OpenID Connect sign-in under way: what the callback must find again


def set_oidc_flow(response: Response, settings: Settings, flow: dict[str, str]) -> None:
    """Keep `flow` (state, nonce, code verifier, where to go next) until the callback.

    SameSite=Lax still sends it on the provider's redirect back (a top-level GET)."""
    value = _serializer(settings, _OIDC_FLOW_SALT).dumps(flow)
    _set(response, settings, OIDC_FLOW_COOKIE, value, OIDC_FLOW_MAX_AGE_S, OIDC_FLOW_PATH)


def oidc_flow(request: Request) -> dict[str, str] | None:
    """The flow this browser started, if its cookie is ours and younger than its max age."""
    value = request.cookies.get(OIDC_FLOW_COOKIE)
    if not value:
        return None
    settings: Settings = request.app.state.settings
    try:
        data = _serializer(settings, _OIDC_FLOW_SALT).loads(value, max_age=OIDC_FLOW_MAX_AGE_S)
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return data


def end_oidc_flow(response: Response, settings: Settings) -> None:
    """A flow's cookie works for one callback, whatever that callback's outcome."""
    response.delete_cookie(
        OIDC_FLOW_COOKIE,
        path=OIDC_FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


# -- CSRF: a token signed with the app's secret and bound to the session (or, on the
# sign-in form, to the pre-session nonce cookie); checked on every POST


def csrf_token(settings: Settings, binding: str) -> str:
    key = hashlib.sha256(_CSRF_SALT + _secret(settings).encode()).digest()
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, binding: str, token: str | None) -> bool:
    return bool(binding and token) and hmac.compare_digest(
        csrf_token(settings, binding), token or ""
    )


def pre_session_nonce(request: Request) -> str | None:
    return request.cookies.get(PRE_SESSION_COOKIE) or None


def set_pre_session(response: Response, settings: Settings, nonce: str) -> None:
    _set(response, settings, PRE_SESSION_COOKIE, nonce, 3600)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
