"""FastAPI dependencies as Annotated aliases, in one place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ServiceUnavailable, Unauthorized
from core.settings import Settings
from core.temporal import connect
from store import api_keys
from store.parties import PartiesCache

log = structlog.get_logger()


async def _settings(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in a thread, a hop per request for nothing
    return request.app.state.settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


# An API started while Temporal was down connects on a later request, trying at most
# this often (concurrent requests share one attempt).
RECONNECT_INTERVAL_S = 2.0


async def temporal_client(app: Any) -> Client | None:
    """The app's Temporal client, connecting now if the API started without one."""
    state = app.state
    if state.temporal is not None:
        return state.temporal  # type: ignore[no-any-return]
    async with state.temporal_lock:
        if state.temporal is None and time.monotonic() >= state.temporal_retry_at:
            bound = state.settings.temporal_rpc_timeout_s
            try:
                async with asyncio.timeout(bound):  # a black-holed address must not hang us
                    state.temporal = await connect(state.settings, retry_for_s=bound)
                log.info("api.temporal_connected", address=state.settings.temporal_address)
            except (RuntimeError, TimeoutError) as err:
                state.temporal_retry_at = time.monotonic() + RECONNECT_INTERVAL_S
                log.warning("api.temporal_unreachable", error=str(err))
    return state.temporal  # type: ignore[no-any-return]


def temporal_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Temporal is not reachable; try again shortly", code="temporal_unavailable"
    )


async def _temporal(request: Request) -> Client:
    client = await temporal_client(request.app)
    if client is None:
        raise temporal_unavailable()
    return client


async def _temporal_if_reachable(request: Request) -> Client | None:
    return await temporal_client(request.app)


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


# The two ways to send the key, declared once as OpenAPI security schemes: an operation
# that depends on ApiKeyDep lists them (either one will do), so "Authorize" in /docs and
# generated clients send the key. auto_error=False: a missing key is our own 401 problem.
_bearer = HTTPBearer(
    scheme_name="bearerAuth", description="Authorization: Bearer <API key>", auto_error=False
)
_x_api_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKeyHeader",
    description="X-API-Key: <API key>",
    auto_error=False,
)


async def _api_key(
    session: Annotated[AsyncSession, Depends(_session)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    x_api_key: Annotated[str | None, Depends(_x_api_key)] = None,
) -> Caller:
    plain = x_api_key
    if bearer is not None and bearer.scheme.lower() == "bearer":
        plain = bearer.credentials.strip()
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
# for reads that still answer from the database while Temporal is away
OptionalTemporalDep = Annotated[Client | None, Depends(_temporal_if_reachable)]
PartiesDep = Annotated[PartiesCache, Depends(_parties)]
ApiKeyDep = Annotated[Caller, Depends(_api_key)]
IdempotencyKeyDep = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
