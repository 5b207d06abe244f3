"""Start latency for ``make bench``: bare ``client.start_workflow`` (an empty workflow, and
the very request the API sends for an invoice) against ``POST /invoices``, with every
worker paused so that only starts are measured."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from bench.floor import FLOOR_TASK_QUEUE
from bench.phases import run_phase
from bench.processes import BenchStack
from bench.report import Phase, merge
from domain.invoicing import BillableItem
from schemas import search_attributes as sa
from schemas.invoice import StartInvoiceInput

# starts are cheap: more of them make the p99 of the start phases steadier
STARTS = int(os.environ.get("BENCH_STARTS", "600"))
START_ROUNDS = 3  # of the three start phases, each round in another order


async def measure_starts(
    stack: BenchStack,
    client: Client,
    contracts: list[tuple[str, str]],
    run: str,
    api_start: Callable[[int], Awaitable[Any]],
) -> tuple[Phase, Phase, Phase]:
    """The bare start, the API's request sent bare, and the API start, pooled over
    START_ROUNDS rounds."""

    async def bare_start(i: int) -> float:
        t0 = time.perf_counter()
        await client.start_workflow("BenchFloor", id=f"bare-{run}-{i}", task_queue=FLOOR_TASK_QUEUE)
        return time.perf_counter() - t0

    async def same_start(i: int) -> float:
        """The very start request the API makes for an invoice (input, search attributes,
        summary), sent straight to Temporal: the API's work is all that differs."""
        customer_id, contract_id = contracts[i % len(contracts)]
        invoice_id = f"inv_bare_{run}_{i}"
        t0 = time.perf_counter()
        await client.start_workflow(
            "Invoice",
            StartInvoiceInput(
                invoice_id=invoice_id,
                customer_id=customer_id,
                customer_name=f"Customer {i % len(contracts)}",
                contract_id=contract_id,
                items=[BillableItem(rate_code="consulting", quantity=Decimal(2))],
                requested_by="bench",
            ),
            id=f"invoice-{invoice_id}",
            task_queue=stack.env.get("INVOICEFLOW_TASK_QUEUE", "invoiceflow"),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Customer {i % len(contracts)} · £360.00 · due 2026-12-24",
            search_attributes=sa.at_start(
                invoice_id=invoice_id,
                customer_id=customer_id,
                amount_due_minor=36000,
                currency="GBP",
            ),
        )
        return time.perf_counter() - t0

    # Starts alone: with every worker paused (SIGSTOP), no workflow runs meanwhile, so
    # each phase measures starts (their tasks queue up). Three rounds, each in another
    # order, so that no path always meets the longest backlog.
    workers = [name for name in stack.procs if "worker" in name]
    per_round = STARTS // START_ROUNDS
    start_kinds: list[tuple[str, Callable[[int], Awaitable[Any]]]] = [
        ("bare start", bare_start),
        ("bare start, the API's request", same_start),
        ("API start", api_start),
    ]
    measured: dict[str, list[Phase]] = {name: [] for name, _ in start_kinds}
    with stack.paused(workers):
        for r in range(START_ROUNDS):
            # the order turns each round: none always runs first or after the others
            shift = r % len(start_kinds)
            for name, start in start_kinds[shift:] + start_kinds[:shift]:
                measured[name].append(
                    await run_phase(
                        name,
                        stack,
                        lambda i, r=r, start=start: start(r * per_round + i),
                        per_round,
                    )
                )
                await asyncio.sleep(1)
    return tuple(merge(*measured[name]) for name, _ in start_kinds)  # type: ignore[return-value]
