"""The ops session cookie: it signs in the operator it was made for, and nobody once the
operator is deactivated, their password changes, the cookie expires or is tampered with;
an API key, a portal token or an approval link's token is never a session."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from api.operator_session import COOKIE_NAME, signed_in_operator
from core.settings import Settings
from store import operators
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.operators import PASSWORD, add_operator, operator_cookies


@pytest.fixture
async def probe(
    sqlite_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, SessionFactory, Settings]]:
    """A tiny app whose one route answers who `signed_in_operator` says is signed in."""
    engine = create_engine(sqlite_url)
    settings = Settings(environment="test", database_url=sqlite_url)
    app = FastAPI()
    app.state.settings = settings
    app.state.sessions = session_factory(engine)

    @app.get("/who")
    async def who(request: Request) -> dict[str, Any]:
        operator = await signed_in_operator(request)
        return {"operator": None if operator is None else operator.email}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://ops.test") as client:
        yield client, app.state.sessions, settings
    await engine.dispose()


async def _who(client: httpx.AsyncClient, cookies: dict[str, str] | None) -> str | None:
    client.cookies.clear()
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value)
    response = await client.get("/who")
    assert response.status_code == 200
    return response.json()["operator"]  # type: ignore[no-any-return]


async def test_the_cookie_signs_in_its_operator_until_deactivated(probe: Any) -> None:
    client, sessions, settings = probe
    row = await add_operator(sessions)
    cookies = operator_cookies(settings, row)
    assert await _who(client, cookies) == "olivia@finance.test"
    assert await _who(client, None) is None
    async with transaction(sessions) as session:
        await operators.deactivate(session, row.email)
    assert await _who(client, cookies) is None


async def test_a_password_change_ends_the_old_sessions(probe: Any) -> None:
    client, sessions, settings = probe
    row = await add_operator(sessions)
    old = operator_cookies(settings, row)
    async with transaction(sessions) as session:
        changed = await operators.set_password(session, row.email, "a brand new passphrase")
    assert await _who(client, old) is None
    assert await _who(client, operator_cookies(settings, changed)) == row.email


async def test_tampered_expired_and_foreign_tokens_sign_nobody_in(
    probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, sessions, settings = probe
    row = await add_operator(sessions)
    value = operator_cookies(settings, row)[COOKIE_NAME]
    assert await _who(client, {COOKIE_NAME: value[:-2] + "xx"}) is None
    # a cookie signed with another secret
    other = Settings(environment="test", link_signing_secret=SecretStr("another-secret-entirely"))
    assert await _who(client, operator_cookies(other, row)) is None
    # expired: signed 13 hours ago (sessions last 12)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 13 * 3600)
    stale = operator_cookies(settings, row)
    monkeypatch.setattr(time, "time", real)
    assert await _who(client, stale) is None


async def test_sign_in_checks_the_password_and_says_nothing_about_the_address(
    probe: Any,
) -> None:
    _, sessions, _ = probe
    await add_operator(sessions)
    async with sessions() as session:
        assert await operators.authenticate(session, "Olivia@Finance.test", PASSWORD)
        assert await operators.authenticate(session, "olivia@finance.test", "wrong") is None
        assert await operators.authenticate(session, "nobody@finance.test", PASSWORD) is None
