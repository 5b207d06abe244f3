"""HTML for people: the index, the mailbox pages, the customer's payment page.

Plain Jinja2 with autoescaping, independent of Starlette's templating helpers. E-mail
bodies are untrusted HTML, so they are served on their own URL with a CSP sandbox (no
scripts) and shown in an iframe, never pasted into our pages.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import format_currency, get_currency_precision
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sandbox.context import SandboxDep

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def money(amount_minor: int, currency: str) -> str:
    """12345, "GBP" -> "£123.45" (minor units to a display string)."""
    try:
        exponent = get_currency_precision(currency)
    except Exception:  # an unknown code still deserves a readable page
        exponent = 2
    major = Decimal(amount_minor).scaleb(-exponent)
    return format_currency(major, currency, locale="en_GB")


_env.filters["money"] = money


def render(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**context), status_code=status)


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(sandbox: SandboxDep) -> HTMLResponse:
    return render(
        "index.html",
        settings=sandbox.settings,
        calls=list(reversed(sandbox.store.calls(limit=50))),
        mail_count=len(sandbox.store.mails()),
    )
