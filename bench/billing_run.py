"""The batch billing benchmark: ``make bench-billing`` (``python -m bench.billing_run``).

Seeds BENCH_CONTRACTS (default 10,000) active contracts with billable entries for one
period, starts ``billing-run-{period}`` on a local stack of its own (dev server on a SQLite
file in WAL mode, one worker, API, sandbox with SMTP), and prints the wall time, invoices
per second, the worker's memory over the run (it should stay flat however many contracts
there are) and the history size of the continued-as-new run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, func, insert, select
from temporalio.client import Client

from bench.processes import peak_rss_mb, rss_mb, stack_data_converter, start_stack
from core.billing_runs import billing_run_state, start_billing_run
from schemas.ids import billing_run_workflow_id
from schemas.tables import BillableEntry, Contract, Customer, Delivery, Invoice
from store.db import sync_url

N = int(os.environ.get("BENCH_CONTRACTS", "10000"))
PERIOD = "2026-10"
RATES = [
    {"code": "consulting", "description": "Consulting", "unit": "hour", "unit_price_minor": 15000}
]


def seed(database_url: str, count: int) -> float:
    """Customers, contracts and two billable entries each, in bulk (not what we measure)."""
    started = time.perf_counter()
    engine = create_engine(sync_url(database_url))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for first in range(0, count, 1000):
            ids = range(first, min(first + 1000, count))
            conn.execute(
                insert(Customer),
                [
                    {
                        "id": f"cus_b{i:06d}",
                        "name": f"Customer {i}",
                        "email": f"c{i}@bench.test",
                        "locale": "en_GB",
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(Contract),
                [
                    {
                        "id": f"con_b{i:06d}",
                        "customer_id": f"cus_b{i:06d}",
                        "currency": "GBP",
                        "tax_region": "GB",
                        "payment_terms_days": 30,
                        "rates": RATES,
                        "invoice_series": "INV",
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(BillableEntry),
                [
                    {
                        "id": f"ent_b{i:06d}_{n}",
                        "contract_id": f"con_b{i:06d}",
                        "period": PERIOD,
                        "kind": "time",
                        "rate_code": "consulting",
                        "quantity": str(n + 1),
                        "created_at": now,
                    }
                    for i in ids
                    for n in range(2)
                ],
            )
    engine.dispose()
    return time.perf_counter() - started


def counts(database_url: str) -> tuple[int, int]:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        generated = conn.execute(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.billing_period == PERIOD, Invoice.number.is_not(None))
        ).scalar_one()
        delivered = conn.execute(select(func.count()).select_from(Delivery)).scalar_one()
    engine.dispose()
    return int(generated), int(delivered)


async def main() -> None:
    stack = start_stack([("worker", [sys.executable, "-m", "worker"])])
    database_url = stack.env["INVOICEFLOW_DATABASE_URL"]
    try:
        seeded = seed(database_url, N)
        print(f"seeded {N:,} contracts in {seeded:.1f} s")
        client = await Client.connect(
            stack.temporal_address, data_converter=stack_data_converter(stack.env)
        )
        worker = stack.pid("worker")
        t0 = time.perf_counter()
        await start_billing_run(
            client, period=PERIOD, task_queue="invoiceflow", requested_by="bench"
        )
        run_done = None
        samples: list[tuple[int, float]] = []
        generated = delivered = 0
        while delivered < N:
            await asyncio.sleep(5)
            status, progress = await billing_run_state(client, PERIOD)
            generated, delivered = counts(database_url)
            samples.append((generated, rss_mb(worker)))
            elapsed = time.perf_counter() - t0
            if run_done is None and status == "COMPLETED":
                run_done = elapsed
            started = progress.contracts_started if progress else "?"
            print(
                f"{elapsed:7.0f} s  run {status}: {started} started · {generated:,} generated · "
                f"{delivered:,} e-mailed · worker RSS {samples[-1][1]:.0f} MiB",
                flush=True,
            )
            if elapsed > 3 * 3600:
                raise TimeoutError("billing benchmark did not finish in 3 hours")
        wall = time.perf_counter() - t0
        handle = client.get_workflow_handle(billing_run_workflow_id(PERIOD))
        last_run_events = len((await handle.fetch_history()).events)
        _, progress = await billing_run_state(client, PERIOD)
    finally:
        peak = peak_rss_mb(stack.pid("worker"))
        stack.stop()
    print(f"\nbilling run of {N:,} contracts ({os.cpu_count()} cores, one worker, SQLite)")
    print(f"  run finished (every child started):  {run_done or wall:8.0f} s")
    print(f"  all invoices generated and e-mailed: {wall:8.0f} s  ({N / wall:.1f} invoices/s)")
    print(
        f"  continued as new: {progress.continued if progress else '?'} times; "
        f"history of the last run: {last_run_events} events"
    )
    quarter = [
        samples[min(len(samples) - 1, round(f * (len(samples) - 1)))] for f in (0.25, 0.5, 0.75, 1)
    ]
    print(
        "  worker RSS at 25/50/75/100% of the run: "
        + " / ".join(f"{mb:.0f} MiB" for _, mb in quarter)
        + f"; peak (VmHWM) {peak:.0f} MiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
