"""The API while Temporal is away: what needs only the database still answers, the rest is
a 503 the client can retry (never a 500), and an API started before Temporal connects as
soon as Temporal is there, without a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import deps
from api.app import create_app
from api.errors import install_error_handlers
from core.settings import Settings
from store import api_keys
from store.db import create_engine, session_factory, transaction
from tests.support.billing import unique_period
from tests.support.servers import bound_socket, serve


class TcpProxy:
    """127.0.0.1:port -> the Temporal dev server, refusing connections until opened."""

    def __init__(self, target: str) -> None:
        sock = bound_socket()
        self.port = sock.getsockname()[1]
        sock.close()  # the port stays ours long enough: nothing else binds ports at random
        self._target_host, target_port = target.rsplit(":", 1)
        self._target_port = int(target_port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in self._pipes:
                task.cancel()
            await asyncio.gather(*self._pipes, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            self._target_host, self._target_port
        )
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()


@contextlib.asynccontextmanager
async def api_behind(proxy: TcpProxy, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(database_url)
    async with transaction(session_factory(engine)) as session:
        _, key = await api_keys.create(session, "away-test")
    await engine.dispose()
    settings = Settings(
        environment="test",
        database_url=database_url,
        temporal_address=f"127.0.0.1:{proxy.port}",
    )
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as api,
    ):
        yield api


async def test_an_api_started_before_temporal_answers_503_then_connects_by_itself(
    temporal: Client, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deps, "RECONNECT_INTERVAL_S", 0.2)
    proxy = TcpProxy(temporal.service_client.config.target_host)
    period = unique_period()
    try:
        async with api_behind(proxy, sqlite_url) as api:
            assert (await api.get("/healthz")).json() == {"status": "degraded", "temporal": False}
            customer = (
                await api.post("/customers", json={"name": "Early", "email": "e@acme.test"})
            ).json()  # the database alone is enough for this
            refused = await api.post(
                "/billing-runs", json={"period": period}, headers={"Idempotency-Key": "b1"}
            )
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "temporal_unavailable"
            assert refused.headers["Retry-After"] == "5"
            unsigned = await api.post("/webhooks/payments", content=b"{}")
            assert unsigned.status_code == 401  # the signature is checked before Temporal

            await proxy.open()
            await asyncio.sleep(0.3)  # past the reconnect interval

            assert (await api.get("/healthz")).json() == {"status": "ok", "temporal": True}
            started = await api.post(
                "/billing-runs", json={"period": period}, headers={"Idempotency-Key": "b1"}
            )  # the refused request let its key go
            assert started.status_code == 202, started.text
            assert customer["id"].startswith("cus_")
    finally:
        await proxy.close()
        with contextlib.suppress(RPCError):  # no worker polls its queue: leave nothing behind
            await temporal.get_workflow_handle(f"billing-run-{period}").terminate()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RPCStatusCode.UNAVAILABLE, 503),
        (RPCStatusCode.DEADLINE_EXCEEDED, 503),
        (RPCStatusCode.RESOURCE_EXHAUSTED, 503),
        (RPCStatusCode.PERMISSION_DENIED, 500),
    ],
)
async def test_temporal_not_answering_is_a_503_to_retry_and_other_rpc_errors_stay_500(
    status: RPCStatusCode, expected: int
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> dict[str, Any]:
        raise RPCError("no", status, b"")

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/boom")

    assert response.status_code == expected
    assert response.headers["content-type"].startswith("application/problem+json")
    if expected == 503:
        assert response.json()["code"] == "temporal_unavailable"
        assert response.headers["Retry-After"] == "5"
