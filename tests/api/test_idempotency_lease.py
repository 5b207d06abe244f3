"""An Idempotency-Key reservation is a lease: a live request renews it however long it
works, and one left by a dead process frees the key within seconds, on both engines."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import idempotency
from api.deps import Caller
from api.errors import install_error_handlers
from api.idempotency import Answer, fingerprint, idempotent
from schemas.tables import IdempotencyRecord
from store.db import create_engine, session_factory
from tests.support.servers import serve

CALLER = Caller(id="key_lease", name="lease-test")
BODY = {"n": 1}


@contextlib.asynccontextmanager
async def slow_api(database_url: str, works_for_s: float) -> AsyncIterator[httpx.AsyncClient]:
    """POST /work answers 201 after `works_for_s`, under the Idempotency-Key it is sent with;
    `acted` counts how often it acted."""
    engine = create_engine(database_url)
    app = FastAPI()
    app.state.sessions = session_factory(engine)
    app.state.acted = 0
    install_error_handlers(app)

    @app.post("/work")
    async def work(request: Request) -> JSONResponse:
        async def produce() -> Answer:
            app.state.acted += 1
            await asyncio.sleep(works_for_s)
            return Answer(201, {"acted": app.state.acted})

        key = request.headers.get("Idempotency-Key")
        async with app.state.sessions() as session:
            return await idempotent(session, request, CALLER, key, BODY, produce)

    try:
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            http.app_state = app.state  # type: ignore[attr-defined]
            yield http
    finally:
        await engine.dispose()


async def test_a_live_request_keeps_its_key_longer_than_the_lease(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "RESERVATION_TTL", idempotency.timedelta(seconds=0.6))
    monkeypatch.setattr(idempotency, "RENEW_EVERY", idempotency.timedelta(seconds=0.15))
    async with slow_api(db_url, works_for_s=2.0) as api:
        headers = {"Idempotency-Key": "long-1"}
        first = asyncio.create_task(api.post("/work", json=BODY, headers=headers))
        await asyncio.sleep(1.2)  # twice the lease: only renewals keep it

        repeat = await api.post("/work", json=BODY, headers=headers)

        assert repeat.status_code == 409, repeat.text
        assert repeat.json()["code"] == "idempotency_key_in_progress"
        assert repeat.headers["Retry-After"] == str(idempotency.RETRY_AFTER_S)
        answered = await first
        assert answered.status_code == 201
        replay = await api.post("/work", json=BODY, headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert api.app_state.acted == 1  # type: ignore[attr-defined]


async def test_a_reservation_left_by_a_dead_process_frees_the_key_within_seconds(
    db_url: str,
) -> None:
    """What a process killed mid-request leaves: a reservation nobody renews."""
    async with slow_api(db_url, works_for_s=0) as api:
        async with api.app_state.sessions() as session:  # type: ignore[attr-defined]
            session.add(
                IdempotencyRecord(
                    api_key_id=CALLER.id,
                    key="orphan",
                    method="POST",
                    path="/work",
                    request_hash=fingerprint("POST", "/work", BODY),
                    status_code=idempotency.IN_PROGRESS,
                    response_body={},
                    created_at=datetime.now(UTC),
                )
            )
            await session.commit()
        killed_at = time.monotonic()

        while True:
            answer = await api.post("/work", json=BODY, headers={"Idempotency-Key": "orphan"})
            if answer.status_code != 409:
                break
            assert answer.headers["Retry-After"] == str(idempotency.RETRY_AFTER_S)
            await asyncio.sleep(idempotency.RETRY_AFTER_S / 2)
        held_for = time.monotonic() - killed_at

        assert answer.status_code == 201, answer.text
        ttl = idempotency.RESERVATION_TTL.total_seconds()
        assert ttl - 0.5 < held_for < ttl + 1.5, held_for
