"""What the provider client's transport costs: ``make bench-http``
(``python -m bench.http_clients``).

POSTs BENCH_REQUESTS (default 3000) provider-sized JSON requests to a FastAPI app served by
uvicorn in another process (as the sandbox is), at 1, 20 and 50 requests in flight, once
with httpx's own transport (httpcore, h11, anyio) and once with ``provider_client``
(httpx's API on aiohttp's transport). The CPU is this process's only: the client's, which
is the worker's share of a provider call.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx

from bench.processes import free_port
from core import eventloop
from integrations.http import post_json, provider_client

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
IN_FLIGHT = (1, 20, 50)


def serve(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/payments/v1/links")
    async def create_link(body: dict[str, object]) -> dict[str, object]:
        return {"id": "plink_0123456789abcdef", "url": "https://pay.test/p/0123", **body}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop")


async def cpu_per_request(http: httpx.AsyncClient, url: str, in_flight: int) -> float:
    """CPU ms of this process per request, `in_flight` requests at a time."""
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with gate:
            await post_json(
                http,
                provider="bench",
                url=url,
                api_key="bench-key",
                idempotency_key=f"invoice-{n}/create-link/1",
                body={"reference": f"inv_{n}", "amount_minor": 36000, "currency": "GBP"},
            )

    await asyncio.gather(*(one(n) for n in range(200)))  # warm-up: connections, imports
    started = time.process_time()
    await asyncio.gather(*(one(n) for n in range(REQUESTS)))
    return (time.process_time() - started) / REQUESTS * 1000


async def wait_until_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    sys.exit(f"the bench server at {url} did not start")


async def measure(port: int) -> None:
    url = f"http://127.0.0.1:{port}/payments/v1/links"
    await wait_until_up(f"http://127.0.0.1:{port}/docs")
    rows = []
    for label, make in (
        ("httpx's own transport", lambda: httpx.AsyncClient(timeout=10)),
        ("provider_client (aiohttp)", lambda: provider_client(10)),
    ):
        async with make() as http:
            rows.append((label, [await cpu_per_request(http, url, n) for n in IN_FLIGHT]))
    print(f"\nProvider calls: {REQUESTS} POSTs per column, client CPU ms per request")
    print(f"  {'requests in flight':28}" + "".join(f"{n:>8}" for n in IN_FLIGHT))
    for label, values in rows:
        print(f"  {label:28}" + "".join(f"{v:8.2f}" for v in values))


def main() -> None:
    if REQUESTS < 1:
        sys.exit("BENCH_REQUESTS must be at least 1")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.http_clients", "--serve", str(port)])
    try:
        eventloop.run(measure(port))  # uvloop, as the worker
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        main()
