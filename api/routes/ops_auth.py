"""Operators sign in to and out of the ops pages (GET/POST /ops/sign-in, POST /ops/sign-out).

A failed sign-in says the same thing, after the same work (an argon2 verify, against a
dummy hash for an unknown address), whether or not the e-mail belongs to an operator.
Failures are throttled in this process: after `MAX_FAILURES` within `WINDOW_S` for one
e-mail address (known or not) or `MAX_FAILURES_PER_CLIENT` from one client address, the
form answers 429 until the window has passed. Behind N API replicas the limit is N times
as generous; an OpenID Connect provider is the production answer to password guessing:
with one configured (`api.routes.ops_oidc`), the form offers it beside the password.

Both forms carry a CSRF token: the sign-in form's is bound to a pre-session nonce cookie
set with the form, the sign-out form's to the session.
"""

from __future__ import annotations

import time
from collections import deque

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.operator_session import sign_in, sign_out, signed_in_operator
from api.ops_web import SIGN_IN_PATH, check_csrf, render, safe_next, settings_of
from store import operators

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)
log = structlog.get_logger()

MAX_FAILURES = 5
MAX_FAILURES_PER_CLIENT = 20
WINDOW_S = 15 * 60
WRONG = "The e-mail address or the password is not right, or the account is not active."


class Throttle:
    """Failed sign-ins per key in a sliding window (in memory, per process)."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and found[0] <= now - WINDOW_S:
            found.popleft()
        return found

    def blocked(self, key: str, limit: int) -> bool:
        return len(self._recent(key, time.monotonic())) >= limit

    def fail(self, key: str) -> None:
        if len(self._failures) > 50_000:
            self._failures.clear()
        self._recent(key, time.monotonic()).append(time.monotonic())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


def _throttle(request: Request) -> Throttle:
    found = getattr(request.app.state, "ops_throttle", None)
    if found is None:
        found = request.app.state.ops_throttle = Throttle()
    return found  # type: ignore[no-any-return]


def _sign_in_page(
    request: Request, *, status: int = 200, error: str | None = None, email: str = "", nxt: str = ""
) -> Response:
    settings = settings_of(request)
    return render(
        request,
        "ops_sign_in.html",
        status=status,
        error=error,
        email=email,
        next=safe_next(nxt),
        oidc=settings.ops_oidc_display_name if settings.ops_oidc_enabled else None,
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str = "") -> Response:  # noqa: A002
    if await signed_in_operator(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _sign_in_page(request, nxt=next)


@router.post("/sign-in")
async def sign_in_form(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form)
    email = operators.normalize_email(str(form.get("email") or ""))
    password = str(form.get("password") or "")
    nxt = str(form.get("next") or "")
    client = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    if throttle.blocked(f"email:{email}", MAX_FAILURES) or throttle.blocked(
        f"client:{client}", MAX_FAILURES_PER_CLIENT
    ):
        log.warning("ops.sign_in_throttled", client=client)
        error = "Too many failed sign-ins. Wait 15 minutes, then try again."
        return _sign_in_page(request, status=429, error=error, email=email, nxt=nxt)
    async with request.app.state.sessions() as session:
        row = await operators.authenticate(session, email, password)
        await session.commit()
    if row is None:
        throttle.fail(f"email:{email}")
        throttle.fail(f"client:{client}")
        log.info("ops.sign_in_failed", client=client)
        return _sign_in_page(request, status=401, error=WRONG, email=email, nxt=nxt)
    throttle.clear(f"email:{email}")
    log.info("ops.signed_in", operator_id=row.id)
    response = RedirectResponse(safe_next(nxt), status_code=303)
    sign_in(response, settings_of(request), row)
    return response


@router.post("/sign-out")
async def sign_out_form(request: Request) -> Response:
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    sign_out(response, settings_of(request))
    if await signed_in_operator(request) is None:
        return response  # no session (expired, or signed out elsewhere): nothing to protect
    operator = await check_csrf(request, await request.form())
    if operator is not None:
        log.info("ops.signed_out", operator_id=operator.id)
    return response
