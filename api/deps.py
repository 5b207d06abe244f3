"""FastAPI dependencies as Annotated aliases, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ServiceUnavailable, Unauthorized
from core.settings import Settings
from schemas.tables import ApiKey
from store import api_keys


def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


def _temporal(request: Request) -> Client:
    client = request.app.state.temporal
    if client is None:
        raise ServiceUnavailable("Temporal is not reachable; try again shortly", code="temporal_unavailable")
    return client


async def _api_key(
    session: Annotated[AsyncSession, Depends(_session)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKey:
    plain = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        plain = authorization[7:].strip()
    if not plain:
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>' or 'X-API-Key'")
    key = await api_keys.find(session, plain)
    await session.commit()  # end the read at once: a SQLite transaction holds the write lock
    if key is None:
        raise Unauthorized("unknown or revoked API key", code="invalid_api_key")
    return key


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[AsyncSession, Depends(_session)]
TemporalClientDep = Annotated[Client, Depends(_temporal)]
ApiKeyDep = Annotated[ApiKey, Depends(_api_key)]
IdempotencyKeyDep = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
