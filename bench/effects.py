"""The effects floor in the lifecycle benchmark: its processes and its load.

Three processes beside the invoices' own: a provider sandbox of its own (HTTP and SMTP,
its webhooks sent to the bare endpoint), the bare endpoint (``effects_api.py``) and the
effects worker (``effects_floor.py``). The load generator drives an effects-floor workflow
as it drives an invoice: a start over HTTP, a long-poll at the provider for the payment
link, the payment at the provider (whose signed webhook signals the workflow), the result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from temporalio.client import Client

from bench.processes import BenchStack, free_port


@dataclass(frozen=True)
class EffectsUrls:
    api_url: str
    sandbox_url: str


def start_effects(stack: BenchStack) -> EffectsUrls:
    python = sys.executable
    http_port, smtp_port, api_port = (free_port() for _ in range(3))
    sandbox_url = f"http://127.0.0.1:{http_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    stack.start(
        "effects-sandbox",
        [python, "-m", "sandbox"],
        http_port,
        {
            "SANDBOX_HTTP_PORT": str(http_port),
            "SANDBOX_SMTP_PORT": str(smtp_port),
            "SANDBOX_DATA_DIR": str(stack.root / "effects-sandbox"),
            "SANDBOX_WEBHOOK_URL": f"{api_url}/webhooks/payments",
        },
    )
    stack.start(
        "effects-api",
        [python, "-m", "bench.effects_api"],
        api_port,
        {"BENCH_EFFECTS_API_PORT": str(api_port)},
    )
    stack.start(
        "effects-worker",
        [python, "-m", "bench.effects_floor"],
        None,
        {
            "INVOICEFLOW_SMTP_PORT": str(smtp_port),
            "INVOICEFLOW_PAYMENTS_URL": sandbox_url,
            "INVOICEFLOW_ACCOUNTING_URL": sandbox_url,
        },
    )
    return EffectsUrls(api_url, sandbox_url)


def effects_load(
    client: Client, starter: aiohttp.ClientSession, provider: aiohttp.ClientSession, run: str
) -> Callable[[int], Coroutine[Any, Any, float]]:
    """One effects-floor workflow end to end, as ``invoice_one`` drives an invoice;
    `starter` is a session on the bare endpoint, `provider` one on the effects sandbox."""

    async def one(i: int) -> float:
        t0 = time.perf_counter()
        async with starter.post("/start", json={"workflow_id": f"effects-{run}-{i}"}) as started:
            started.raise_for_status()
            workflow_id = (await started.json())["workflow_id"]
        async with provider.get(
            "/_sandbox/payment-links/wait", params={"reference": workflow_id, "timeout_s": 110}
        ) as waited:
            waited.raise_for_status()
            links = await waited.json()
        if not links:
            raise TimeoutError(f"no payment link for {workflow_id}")
        link = links[0]
        async with provider.post(
            f"/payments/v1/links/{link['id']}/payments",
            json={"amount_minor": link["amount_minor"]},
            headers={"Idempotency-Key": f"{workflow_id}:pay"},
        ) as paid:
            paid.raise_for_status()
        await client.get_workflow_handle(workflow_id).result()
        return time.perf_counter() - t0

    return one
