"""Operators for tests: one created straight in the store, and the cookie that signs them in
(what a browser holds after POST /ops/sign-in), so a test can open the ops pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from api.app import create_app
from api.operator_session import COOKIE_NAME, session_cookie
from core.settings import Settings
from schemas.operator_tables import OperatorRow
from store import api_keys, operators
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.servers import bound_socket

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


@dataclass
class OpsApp:
    client: httpx.AsyncClient  # no credentials of its own: a browser that has signed in to nothing
    sessions: SessionFactory
    settings: Settings
    api_key: str  # a valid upstream-app key, to show it opens nothing under /ops


@contextlib.asynccontextmanager
async def ops_app(database_url: str, **settings: Any) -> AsyncIterator[OpsApp]:
    """The API app in process (lifespan run) with Temporal unreachable (the ops pages read
    only the database), on https so Secure cookies round-trip outside development."""
    closed = bound_socket()
    port = closed.getsockname()[1]
    closed.close()
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "temporal_address": f"127.0.0.1:{port}",
        "temporal_rpc_timeout_s": 0.5,
        **settings,
    }
    config = Settings(**values)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        _, key = await api_keys.create(session, "ops-test")
    app = create_app(config)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://ops.test"
            ) as client,
        ):
            yield OpsApp(client, sessions, config, key)
    finally:
        await engine.dispose()
