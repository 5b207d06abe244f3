"""``Idempotency-Key`` for POSTs: the same key and body replay the first answer;
the same key with another body is 422.

The key is reserved (a record with ``status_code`` 0) in a transaction of its own before
the request does anything, so two requests racing with one key cannot both act: the
second gets 409 ``idempotency_key_in_progress`` (with ``Retry-After``) and can retry, then
gets the replay.

A reservation is a lease: its ``created_at`` is the time it was last renewed, and a live
request renews it every `RENEW_EVERY` while it works, so however long the request takes,
nobody takes the key from it. A process that dies mid-request stops renewing, and its
reservation is taken over once it is `RESERVATION_TTL` old: a repeat of a request whose
API process was killed gets 409 for at most that long. API processes compare their own
clocks here, which must agree to well within a second (NTP).

Only successful answers are kept: a request refused for bad input wrote nothing, so its
reservation is dropped and it can be corrected and sent again under the same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
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

log = structlog.get_logger()


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
RESERVATION_TTL = timedelta(seconds=6)  # a reservation not renewed for this long is dead
RENEW_EVERY = timedelta(seconds=2)  # a third of the TTL: two renewals may be slow or fail
RETRY_AFTER_S = 1  # told to a repeat that finds the key in progress

_renewals: set[asyncio.Task[None]] = set()  # running renewals, kept from the GC


class _Claim:
    """This request's reservation: every time it has held (renewal moves it), so the
    final write and a release match ours whichever renewal landed last, and never a
    reservation another request took over."""

    def __init__(self, at: datetime) -> None:
        self.times = [at]
        self.done = asyncio.Event()

    @property
    def latest(self) -> datetime:
        return self.times[-1]

    def ours(self, record: tuple[str, str]) -> Any:
        return (
            _is(record)
            & (col(IdempotencyRecord.status_code) == IN_PROGRESS)
            & col(IdempotencyRecord.created_at).in_(list(self.times))
        )


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
    claim = _Claim(reserved_at)
    renewal = asyncio.create_task(_renew(request.app.state.sessions, record, claim))
    _renewals.add(renewal)
    renewal.add_done_callback(_renewals.discard)
    try:
        try:
            answer = await produce()
        except BaseException:
            await session.rollback()
            await _release(session, claim.ours(record))
            raise
        await begin_write(session)
        await (await session.connection()).execute(
            update(IdempotencyRecord)
            .where(claim.ours(record))
            .values(
                status_code=answer.status_code, response_body=answer.body, location=answer.location
            )
        )
        await session.commit()
    finally:
        # not awaited: a renewal still writing matches nothing once the answer is stored,
        # and waiting for it could wait on this very session's SQLite write lock
        claim.done.set()
    return answer.response()


async def _renew(sessions: Any, record: tuple[str, str], claim: _Claim) -> None:
    """Keep the reservation alive while the request works (most answer before the first
    renewal is due)."""
    while not claim.done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(claim.done.wait(), RENEW_EVERY.total_seconds())
            return
        renewed_at = datetime.now(UTC)
        held = claim.ours(record)
        claim.times.append(renewed_at)  # before the write: the final write must match it
        try:
            async with sessions() as session:
                await begin_write(session)
                result = await (await session.connection()).execute(
                    update(IdempotencyRecord).where(held).values(created_at=renewed_at)
                )
                await session.commit()
        except Exception:  # a database hiccup: the next renewal tries again
            log.warning("idempotency.renew_failed", key=record[1], exc_info=True)
            continue
        if not result.rowcount and not claim.done.is_set():
            log.warning("idempotency.reservation_lost", key=record[1])
            return


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
    """A reservation not renewed for RESERVATION_TTL was left by a request that died: drop
    it and claim the key, unless another request claims it first."""
    await begin_write(session)
    result = await (await session.connection()).execute(
        delete(IdempotencyRecord).where(
            _is(record),
            col(IdempotencyRecord.status_code) == IN_PROGRESS,
            col(IdempotencyRecord.created_at) < datetime.now(UTC) - RESERVATION_TTL,
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
        retry_after=RETRY_AFTER_S,
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
