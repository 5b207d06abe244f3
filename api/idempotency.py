"""``Idempotency-Key`` for POSTs: the same key and body replay the first answer;
the same key with another body is 422.

The key is reserved (a record with ``status_code`` 0) in a transaction of its own before
the request does anything, so two requests racing with one key cannot both act: the
second gets 409 ``idempotency_key_in_progress`` and can retry, then gets the replay. A
reservation left by a process that died mid-request is taken over after
`RESERVATION_TIMEOUT`.

Only successful answers are kept: a request refused for bad input wrote nothing, so its
reservation is dropped and it can be corrected and sent again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Conflict, Unprocessable

if TYPE_CHECKING:
    from api.deps import Caller
from schemas.tables import IdempotencyRecord
from store.db import begin_write, insert_if_absent


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any]
    location: str | None = None

    def response(self, replayed: bool = False) -> JSONResponse:
        headers = {"Location": self.location} if self.location else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(self.body, status_code=self.status_code, headers=headers)


def request_fingerprint(request: Request, body: Any) -> str:
    return fingerprint(request.method, request.url.path, body)


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


IN_PROGRESS = 0  # the status_code of a reserved key whose request has not answered yet
RESERVATION_TIMEOUT = timedelta(seconds=60)  # far longer than any of our POSTs takes


async def idempotent(
    session: AsyncSession,
    request: Request,
    api_key: Caller,
    key: str | None,
    body: Any,
    produce: Callable[[], Awaitable[Answer]],
) -> JSONResponse:
    if not key:
        return (await produce()).response()
    request_hash = request_fingerprint(request, body)
    record = (api_key.id, key)
    reserved_at = await _reserve(session, request, record, request_hash)
    if reserved_at is None:
        stored = await session.get(IdempotencyRecord, record, populate_existing=True)
        await session.commit()
        if stored is None:  # the first request failed and let the key go meanwhile
            raise _in_progress()
        if stored.status_code != IN_PROGRESS:
            return _replay(stored, request_hash)
        if stored.request_hash != request_hash:
            raise _reused()
        reserved_at = await _take_over(session, request, record, request_hash)
        if reserved_at is None:
            raise _in_progress()
    ours = _is(record) & (col(IdempotencyRecord.status_code) == IN_PROGRESS)
    ours &= col(IdempotencyRecord.created_at) == reserved_at  # not a request that took over
    try:
        answer = await produce()
    except BaseException:
        await session.rollback()
        await _release(session, ours)
        raise
    await begin_write(session)
    await (await session.connection()).execute(
        update(IdempotencyRecord)
        .where(ours)
        .values(status_code=answer.status_code, response_body=answer.body, location=answer.location)
    )
    await session.commit()
    return answer.response()


async def _reserve(
    session: AsyncSession, request: Request, record: tuple[str, str], request_hash: str
) -> datetime | None:
    """Claim the key for this request (its own transaction): the claim's time, which
    identifies it, or None if the key is taken."""
    await begin_write(session)
    reserved_at = datetime.now(UTC)
    inserted = await insert_if_absent(
        session,
        IdempotencyRecord,
        api_key_id=record[0],
        key=record[1],
        method=request.method,
        path=request.url.path,
        request_hash=request_hash,
        status_code=IN_PROGRESS,
        response_body={},
        location=None,
        created_at=reserved_at,
    )
    await session.commit()
    return reserved_at if inserted else None


async def _take_over(
    session: AsyncSession, request: Request, record: tuple[str, str], request_hash: str
) -> datetime | None:
    """A reservation older than RESERVATION_TIMEOUT was left by a request that died: drop
    it and claim the key, unless another request claims it first."""
    await begin_write(session)
    result = await (await session.connection()).execute(
        delete(IdempotencyRecord).where(
            _is(record),
            col(IdempotencyRecord.status_code) == IN_PROGRESS,
            col(IdempotencyRecord.created_at) < datetime.now(UTC) - RESERVATION_TIMEOUT,
        )
    )
    await session.commit()
    if not result.rowcount:
        return None
    return await _reserve(session, request, record, request_hash)


async def _release(session: AsyncSession, ours: Any) -> None:
    """The request failed: let the key go (its own claim only), so the corrected request
    can use it."""
    await begin_write(session)
    await (await session.connection()).execute(delete(IdempotencyRecord).where(ours))
    await session.commit()


def _is(record: tuple[str, str]) -> Any:
    return (col(IdempotencyRecord.api_key_id) == record[0]) & (
        col(IdempotencyRecord.key) == record[1]
    )


def _in_progress() -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        code="idempotency_key_in_progress",
    )


def _reused() -> Unprocessable:
    return Unprocessable(
        "this Idempotency-Key was already used with a different request body",
        code="idempotency_key_reused",
    )


def _replay(stored: IdempotencyRecord, request_hash: str) -> JSONResponse:
    if stored.request_hash != request_hash:
        raise _reused()
    return Answer(stored.status_code, stored.response_body, stored.location).response(replayed=True)
