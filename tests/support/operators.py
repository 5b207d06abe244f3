"""Operators for tests: one created straight in the store, and the cookie that signs them in
(what a browser holds after POST /ops/sign-in), so a test can open the ops pages."""

from __future__ import annotations

from api.operator_session import COOKIE_NAME, session_cookie
from core.settings import Settings
from schemas.operator_tables import OperatorRow
from store import operators
from store.db import SessionFactory, transaction

PASSWORD = "correct horse battery"


async def add_operator(
    sessions: SessionFactory,
    email: str = "olivia@finance.test",
    name: str = "Olivia Park",
    password: str | None = PASSWORD,
) -> OperatorRow:
    async with transaction(sessions) as session:
        return await operators.create(session, operators.NewOperator(email, name, password))


def operator_cookies(settings: Settings, row: OperatorRow) -> dict[str, str]:
    """Cookies of a browser signed in as `row`: pass as httpx `cookies=`."""
    return {COOKIE_NAME: session_cookie(settings, row)}


def cookie_header(settings: Settings, row: OperatorRow) -> dict[str, str]:
    """The same as a Cookie header (for a client that keeps no cookie jar)."""
    return {"Cookie": f"{COOKIE_NAME}={session_cookie(settings, row)}"}
