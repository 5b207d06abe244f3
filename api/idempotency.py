"""``Idempotency-Key`` for POSTs: the same key and body replay the first answer;
the same key with another body is 422.

Only successful answers are kept: a request refused for bad input wrote nothing, so it
can be corrected and sent again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Unprocessable

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
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


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
    fingerprint = request_fingerprint(request, body)
    api_key_id = api_key.id
    stored = await session.get(IdempotencyRecord, (api_key_id, key))
    await session.commit()  # end the read: a SQLite transaction holds the write lock
    if stored is not None:
        return _replay(stored, fingerprint)
    answer = await produce()
    await begin_write(session)
    inserted = await insert_if_absent(
        session,
        IdempotencyRecord,
        api_key_id=api_key_id,
        key=key,
        method=request.method,
        path=request.url.path,
        request_hash=fingerprint,
        status_code=answer.status_code,
        response_body=answer.body,
        location=answer.location,
        created_at=datetime.now(UTC),
    )
    await session.commit()
    if not inserted:  # a concurrent request with the same key answered first
        session.expire_all()
        stored = await session.get(IdempotencyRecord, (api_key_id, key))
        assert stored is not None
        return _replay(stored, fingerprint)
    return answer.response()


def _replay(stored: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if stored.request_hash != fingerprint:
        raise Unprocessable(
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
        )
    return Answer(stored.status_code, stored.response_body, stored.location).response(replayed=True)
