"""The customer portal's forms: CSRF tokens, submission ids, and reading what was posted.

Why not `starlette-csrf` or `fastapi-csrf-protect`: the first checks a header, which a
plain HTML form (the portal has no JavaScript) cannot send; the second keeps one token per
browser in global configuration, while a portal form needs its token bound to one invoice,
one form and one submission. Both would add a dependency for less than this module does
with `itsdangerous`, which already signs the portal links.

Every form the portal renders gets, at GET time, a random `submission_id` and a `csrf`
token: ``itsdangerous`` (HMAC-SHA256, salted apart from the links) over

- the invoice id, so a token for one invoice posts to no other;
- the form's purpose (``dispute``, ``reply:<dispute id>``, ...), so a reply's token cannot
  post a remedy decision;
- the submission id, which becomes the action's ``request_id``: the same form posted twice
  is one action, however often it arrives;
- a hash of the browser's double-submit cookie (random, ``HttpOnly``, ``SameSite=Lax``,
  path ``/portal``), so a token scraped by another client is useless in the customer's
  browser, and a cross-site POST (which carries no ``Lax`` cookie) is refused.

A POST is accepted only when the token's signature holds, it is younger than
`FORM_MAX_AGE_S`, it names this invoice and this form, its submission id is the one posted
beside it, and the cookie the browser sent hashes to the one in the token. Anything else
is `FormRefused`, which the routes answer with a 403 page before they read or create
anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel import Locale
from babel.numbers import NumberFormatError, get_group_symbol, parse_decimal
from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.datastructures import FormData, UploadFile

from core.settings import Settings
from domain.money import exponent

FORM_SALT = "invoiceflow.portal.form"
FORM_MAX_AGE_S = 2 * 24 * 3600  # a form left open over a weekend night still posts
COOKIE_NAME = "invoiceflow_portal_csrf"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
COOKIE_PATH = "/portal"
MAX_FILES = 10  # attachments per form


class FormRefused(Exception):
    """A POST whose CSRF token does not hold; `reason` is for the log, not the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FormTicket:
    """What a rendered form carries in its hidden fields."""

    csrf: str
    submission_id: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.link_signing_secret.get_secret_value(), salt=FORM_SALT)


def _browser_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()[:32]


def browser_cookie(request: Request) -> str:
    """The browser's double-submit cookie, or a new one (`remember_browser` sets it)."""
    value = request.cookies.get(COOKIE_NAME, "")
    return value if 20 <= len(value) <= 100 else secrets.token_urlsafe(32)


def remember_browser(response: Response, settings: Settings, cookie: str) -> None:
    """Set (or refresh) the double-submit cookie on a page that renders forms."""
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=COOKIE_MAX_AGE_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
    )


def issue(
    settings: Settings,
    cookie: str,
    invoice_id: str,
    purpose: str,
    submission_id: str | None = None,
) -> FormTicket:
    """A ticket for one rendering of one form: a new submission, or (a form sent back
    with its errors) the same one again, so that its corrected post is still one action."""
    submission_id = submission_id or secrets.token_urlsafe(18)
    claims = {"i": invoice_id, "p": purpose, "s": submission_id, "b": _browser_hash(cookie)}
    return FormTicket(csrf=_serializer(settings).dumps(claims), submission_id=submission_id)


def check(
    settings: Settings, request: Request, form: FormData, invoice_id: str, purpose: str
) -> str:
    """The posted form's submission id, once its token holds (else `FormRefused`)."""
    token = form.get("csrf")
    posted_submission = form.get("submission_id")
    if not isinstance(token, str) or not token:
        raise FormRefused("no token")
    try:
        claims = _serializer(settings).loads(token, max_age=FORM_MAX_AGE_S)
    except SignatureExpired as expired:
        raise FormRefused("token expired") from expired
    except BadSignature as bad:
        raise FormRefused("bad signature") from bad
    if not isinstance(claims, dict):
        raise FormRefused("bad claims")
    if claims.get("i") != invoice_id or claims.get("p") != purpose:
        raise FormRefused("token of another form")
    submission_id = claims.get("s")
    if not isinstance(submission_id, str) or posted_submission != submission_id:
        raise FormRefused("submission id mismatch")
    cookie = request.cookies.get(COOKIE_NAME, "")
    if not cookie or not hmac.compare_digest(_browser_hash(cookie), str(claims.get("b", ""))):
        raise FormRefused("cookie mismatch")
    return submission_id


# --- what was posted ----------------------------------------------------------------------


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def uploads(form: FormData, name: str = "attachments") -> list[UploadFile]:
    """The files chosen in a file input; a browser posts an empty part when none is."""
    return [
        value
        for value in form.getlist(name)
        if isinstance(value, UploadFile) and (value.filename or value.size)
    ]


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The file's bytes, at most one past `max_bytes` (enough for `classify` to refuse it
    as too large without holding a huge upload in memory)."""
    return await upload.read(max_bytes + 1)


def parse_amount(raw: str, locale: Locale, currency: str) -> int | None:
    """An amount in major units as the customer types it in their locale (``1 234,50`` in
    fr-CA, ``1,234.50`` in en-GB), in minor units; empty is None; else ValueError."""
    cleaned = raw.strip().replace("\u00a0", " ").replace("\u202f", " ")
    if not cleaned:
        return None
    group = get_group_symbol(locale)
    if group in ("\u00a0", "\u202f"):  # typed as a plain space
        cleaned = cleaned.replace(" ", group)
    try:
        major = parse_decimal(cleaned, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation) as bad:
        raise ValueError(raw) from bad
    places = exponent(currency)
    minor = major.scaleb(places)
    if minor != minor.to_integral_value() or major <= 0:
        raise ValueError(raw)
    return int(minor.quantize(Decimal(1)))
