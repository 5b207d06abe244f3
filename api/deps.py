"""FastAPI dependencies as Annotated aliases, in one place."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ServiceUnavailable, Unauthorized
from core.settings import Settings
from store import api_keys
from store.parties import PartiesCache


async def _settings(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in a thread, a hop per request for nothing
    return request.app.state.settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


async def _temporal(request: Request) -> Client:
    client = request.app.state.temporal
    if client is None:
        raise ServiceUnavailable(
            "Temporal is not reachable; try again shortly", code="temporal_unavailable"
        )
    return client


async def _parties(request: Request) -> PartiesCache:
    return request.app.state.parties


@dataclass(frozen=True)
class Caller:
    """The authenticated upstream app: what routes need of its API key."""

    id: str
    name: str


# Recently verified keys, by hash, so a busy client does not cost a database read per
# request. A revoked key stops working within KEY_CACHE_TTL_S.
KEY_CACHE_TTL_S = 30.0
_verified: dict[str, tuple[Caller, float]] = {}


async def _api_key(
    session: Annotated[AsyncSession, Depends(_session)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    plain = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        plain = authorization[7:].strip()
    if not plain:
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>' or 'X-API-Key'")
    digest = api_keys.hash_key(plain)
    cached = _verified.get(digest)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    key = await api_keys.find(session, plain)
    await session.commit()  # end the read at once
    if key is None:
        raise Unauthorized("unknown or revoked API key", code="invalid_api_key")
    caller = Caller(id=key.id, name=key.name)
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[digest] = (caller, time.monotonic() + KEY_CACHE_TTL_S)
    return caller


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[AsyncSession, Depends(_session)]
TemporalClientDep = Annotated[Client, Depends(_temporal)]
PartiesDep = Annotated[PartiesCache, Depends(_parties)]
ApiKeyDep = Annotated[Caller, Depends(_api_key)]
IdempotencyKeyDep = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
