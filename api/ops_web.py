"""What every ops page shares: the sign-in guard, CSRF on forms, rendering, formatting.

The guard is `OperatorDep`: a request without a valid operator session gets the sign-in
page (303, back to where it was going after) or, for a `.json` view, a 401 problem. It
looks at the session cookie only (`api.operator_session`): an upstream app's API key, a
portal token or an approval link's token opens nothing here.

Staff pages, English, en-GB formats (like the exception review page); no JavaScript, no
external assets: the charts are inline SVG (`api.ops_charts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from babel.dates import format_date, format_datetime
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.errors import problem
from api.operator_session import (
    Operator,
    csrf_ok,
    csrf_token,
    new_nonce,
    pre_session_nonce,
    set_pre_session,
    signed_in_operator,
)
from core.settings import Settings
from domain.errors import UnsupportedCurrency
from domain.matching.text import amount_text
from rendering.formatting import money
from rendering.i18n import babel_locale, environment

LOCALE = babel_locale("en_GB")
SIGN_IN_PATH = "/ops/sign-in"
NAV = (
    ("aging", "/ops/aging", "Receivables aging"),
    ("invoices", "/ops/invoices", "Open invoices"),
    ("queues", "/ops/queues", "Work queues"),
    ("flow", "/ops/flow", "Flow"),
)


class SignInRequired(Exception):
    """No operator session: the sign-in page (HTML) or a 401 (JSON)."""


class CsrfRejected(Exception):
    """A POST without the form's token of this session: a 403 page, nothing done."""


def wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json") or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


def safe_next(target: str | None) -> str:
    """Only a path of the ops pages: a sign-in link cannot send anyone to another site."""
    if target and target.startswith("/ops/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ops/aging"


def install_ops_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        if wants_json(request):
            return problem(
                401,
                "Sign-in required",
                "the ops pages need an operator session: sign in at /ops/sign-in",
                code="operator_sign_in_required",
                instance=request.url.path,
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _: CsrfRejected) -> Response:
        return render_message(
            request,
            403,
            "This form cannot be accepted",
            "The form was missing its security token, or it came from another page or an"
            " older session. Nothing was changed. Go back, reload the page and try again.",
        )


async def _operator(request: Request) -> Operator:
    operator = await signed_in_operator(request)
    if operator is None:
        raise SignInRequired
    return operator


OperatorDep = Annotated[Operator, Depends(_operator)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def check_csrf(request: Request, form: Mapping[str, Any]) -> Operator | None:
    """Raise CsrfRejected unless the form's token is this session's (or, with no session,
    the sign-in form's pre-session nonce's). Returns the signed-in operator, if any."""
    settings = settings_of(request)
    operator = await signed_in_operator(request)
    binding = operator.session_id if operator else (pre_session_nonce(request) or "")
    token = form.get("csrf_token")
    if not csrf_ok(settings, binding, token if isinstance(token, str) else None):
        raise CsrfRejected
    return operator


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    operator: Operator | None = None,
    active: str = "",
    **context: Any,
) -> HTMLResponse:
    """A page, with the nav and the sign-out form for `operator` (its CSRF token)."""
    settings = settings_of(request)
    nonce = None
    if operator is not None:
        token = csrf_token(settings, operator.session_id)
    else:  # the sign-in form: bind its token to a fresh (or the current) nonce
        nonce = pre_session_nonce(request) or new_nonce()
        token = csrf_token(settings, nonce)
    html = (
        environment(LOCALE, "api")
        .get_template(template)
        .render(operator=operator, csrf_token=token, nav=NAV, active=active, **FORMATS, **context)
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if nonce is not None and nonce != pre_session_nonce(request):
        set_pre_session(response, settings, nonce)
    return response


def render_message(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "ops_message.html", status=status, title=title, message=message)


def json_view(body: Any) -> JSONResponse:
    response = JSONResponse(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def fmt_money(minor: int | None, currency: str | None) -> str:
    if minor is None or currency is None:
        return "—"
    try:
        return money(minor, currency, LOCALE)
    except UnsupportedCurrency:
        return amount_text(minor, currency)


def fmt_date(day: date | str | None) -> str:
    """A date, or the ISO text of one (what the JSON views hold)."""
    if not day:
        return "—"
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    return format_date(day, "d MMM y", locale=LOCALE)


def fmt_when(at: datetime | str | None) -> str:
    if not at:
        return "—"
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return f"{format_datetime(at, 'd MMM y, HH:mm', tzinfo=UTC, locale=LOCALE)} UTC"


def fmt_duration(hours: float | None) -> str:
    """Hours under two days, days beyond: '5.5 h', '12.3 d'."""
    if hours is None:
        return "—"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


FORMATS = {
    "money": fmt_money,
    "day": fmt_date,
    "when": fmt_when,
    "duration": fmt_duration,
}
