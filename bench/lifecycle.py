"""The lifecycle benchmark: ``make bench`` (``python -m bench.lifecycle``).

On a local stack of its own (dev server persisted to a SQLite file in WAL mode, worker,
API, sandbox with SMTP) it measures, in one run:

1. the floor: BenchFloor workflows (the invoice's shape, empty activities) end to end, and
   the same carrying an invoice's search attributes (a diagnostic: visibility's share);
2. the effects floor (``effects.py``): the floor with search attributes, whose activities
   make an invoice's outside calls (payment link, e-mail, two accounting posts) to a sandbox
   of its own, started through a bare HTTP endpoint and paid through the sandbox's signed
   webhook to a bare endpoint that signals; what is left between it and an invoice is
   InvoiceFlow's own cost;
3. the real thing: happy-path invoices started through the API, e-mailed over SMTP,
   paid at the sandbox (signed webhook), posted to accounting, closed;
4. start latency at 50 concurrent clients, every worker paused so only starts are measured:
   bare ``client.start_workflow`` (an empty workflow, and the very request the API sends)
   against ``POST /invoices``;

and prints throughput, latency percentiles, the real/floor and real/effects-floor ratios,
history events per workflow, each process's CPU, and the worker's peak memory.
Phases 1 to 3 run in BENCH_ROUNDS rounds (default 3), in turn, so that the machine's
drifting speed touches them alike; the table pools the rounds, and the ratio of each round
is printed too.
Environment: BENCH_INVOICES (default 200, per phase and round), BENCH_CONCURRENCY (default
50), BENCH_STARTS (default 600, per start phase), BENCH_PROFILE=1 (py-spy on the worker in
the first round's real phase).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import aiohttp
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.effects import EffectsUrls, effects_load, start_effects
from bench.floor import FLOOR_TASK_QUEUE
from bench.phases import CONCURRENCY, run_phase
from bench.processes import BenchStack, peak_rss_mb, stack_data_converter, start_stack
from bench.profile import WorkerProfile
from bench.report import Column, Phase, merge, pct, ratio_line, ratios_by_round, table
from bench.server_metrics import report as server_report
from bench.starts import START_ROUNDS, STARTS, measure_starts
from core import eventloop
from core.settings import get_settings
from schemas import search_attributes as sa
from store import api_keys
from store.db import create_engine, session_factory, transaction

N = int(os.environ.get("BENCH_INVOICES", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # of floor, floor + SA, real in turn
RATES = [
    {"code": "consulting", "description": "Consulting", "unit": "hour", "unit_price_minor": 15000}
]


async def main() -> None:
    if min(N, ROUNDS, CONCURRENCY, STARTS // START_ROUNDS) < 1:
        sys.exit(
            "BENCH_INVOICES, BENCH_ROUNDS and BENCH_CONCURRENCY must be at least 1, "
            f"BENCH_STARTS at least {START_ROUNDS}"
        )
    python = sys.executable
    workers = [("worker", [python, "-m", "worker"])]
    # BENCH_WORKERS=2 adds invoice workers on the same task queue (scale-out on one box)
    workers += [(f"worker-{n}", [python, "-m", "worker"]) for n in range(2, WORKERS + 1)]
    stack = start_stack([*workers, ("floor-worker", [python, "-m", "bench.floor"])])
    try:
        await measure(stack, start_effects(stack))
    finally:
        stack.stop()


async def measure(stack: BenchStack, effects: EffectsUrls) -> None:
    client = await Client.connect(
        stack.temporal_address, data_converter=stack_data_converter(stack.env)
    )
    engine = create_engine(stack.env["INVOICEFLOW_DATABASE_URL"])
    async with transaction(session_factory(engine)) as session:
        _, key = await api_keys.create(session, "bench")
    await engine.dispose()
    run = uuid.uuid4().hex[:6]
    # expire idle connections before uvicorn (5 s keep-alive) closes them under us
    limits = httpx.Limits(
        max_connections=CONCURRENCY * 2,
        max_keepalive_connections=CONCURRENCY * 2,
        keepalive_expiry=3,
    )
    async with (
        httpx.AsyncClient(
            base_url=stack.api_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=limits,
        ) as api,
        # The load generator's own CPU is taken from the same two cores as the system
        # under test: aiohttp (C parser) costs it a third of httpx's CPU per request.
        # With httpx, the generator was the busiest process on the box during the starts
        # and its own queueing made most of the measured latency.
        aiohttp.ClientSession(
            base_url=stack.sandbox_url,
            headers={"Authorization": "Bearer sandbox-key"},
            connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=3),
            timeout=aiohttp.ClientTimeout(total=120),
        ) as provider,
        aiohttp.ClientSession(
            base_url=stack.api_url,
            headers={"Authorization": f"Bearer {key}"},
            connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=3),
            timeout=aiohttp.ClientTimeout(total=60),
        ) as starter,
        # the effects floor's: its own sandbox, its bare endpoint (no authentication)
        aiohttp.ClientSession(
            base_url=effects.sandbox_url,
            headers={"Authorization": "Bearer sandbox-key"},
            connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=3),
            timeout=aiohttp.ClientTimeout(total=120),
        ) as effects_provider,
        aiohttp.ClientSession(
            base_url=effects.api_url,
            connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=3),
            timeout=aiohttp.ClientTimeout(total=60),
        ) as effects_starter,
    ):
        contracts = []
        for i in range(10):
            customer = (
                await api.post(
                    "/customers", json={"name": f"Customer {i}", "email": f"c{i}@bench.test"}
                )
            ).json()
            contract = (
                await api.post(
                    "/contracts",
                    json={
                        "customer_id": customer["id"],
                        "currency": "GBP",
                        "tax_region": "GB",
                        "payment_terms_days": 30,
                        "rates": RATES,
                    },
                )
            ).json()
            contracts.append((customer["id"], contract["id"]))

        async def floor_one(i: int, searchable: bool = False) -> float:
            t0 = time.perf_counter()
            # searchable: started as the API starts an invoice (search attributes, summary)
            extra: dict = (
                {
                    "static_summary": f"Customer {i} · £360.00 · due 2026-12-24",
                    "search_attributes": sa.at_start(
                        invoice_id=f"inv_floor_{i}",
                        customer_id="cus_floor",
                        amount_due_minor=36000,
                        currency="GBP",
                    ),
                }
                if searchable
                else {}
            )
            handle = await client.start_workflow(
                "BenchFloor",
                searchable,
                id=f"floor-{run}-{'s' if searchable else ''}{i}",
                task_queue=FLOOR_TASK_QUEUE,
                **extra,
            )
            await handle.signal("payment_received")  # durable: applied when the workflow waits
            await handle.result()
            return time.perf_counter() - t0

        api_latencies: list[float] = []
        segments: list[tuple[float, float, float, float]] = []

        async def start_invoice(i: int) -> tuple[str, float]:
            customer_id, contract_id = contracts[i % len(contracts)]
            t0 = time.perf_counter()
            async with starter.post(
                "/invoices",
                json={
                    "customer_id": customer_id,
                    "contract_id": contract_id,
                    "items": [{"rate_code": "consulting", "quantity": "2"}],
                },
            ) as response:
                response.raise_for_status()
                workflow_id = (await response.json())["workflow_id"]
            return workflow_id, time.perf_counter() - t0

        async def invoice_one(i: int) -> float:
            t0 = time.perf_counter()
            workflow_id, api_latency = await start_invoice(i)
            api_latencies.append(api_latency)
            handle = client.get_workflow_handle(workflow_id)
            invoice_id = workflow_id.removeprefix("invoice-")
            # the customer pays as soon as the payment link exists (the e-mail carrying it is
            # sent meanwhile): a long-poll at the provider, not a workflow query nor a 20 Hz
            # poll, keeps the measuring cheap
            t_started = time.perf_counter()
            async with provider.get(
                "/_sandbox/payment-links/wait",
                params={"reference": invoice_id, "timeout_s": 110},
            ) as waited:
                waited.raise_for_status()
                links = await waited.json()
            if not links:
                raise TimeoutError(f"no payment link for {invoice_id}")
            t_waiting = time.perf_counter()
            link = links[0]
            async with provider.post(
                f"/payments/v1/links/{link['id']}/payments",
                json={"amount_minor": link["amount_minor"]},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ) as paid:
                paid.raise_for_status()
            t_paid = time.perf_counter()
            await handle.result()
            t_done = time.perf_counter()
            segments.append(
                (t_started - t0, t_waiting - t_started, t_paid - t_waiting, t_done - t_paid)
            )
            return t_done - t0

        effects_one = effects_load(client, effects_starter, effects_provider, run)
        # warm up every path (imports, connections, caches)
        await run_phase("warm-up floor", stack, floor_one, 5)
        await run_phase("warm-up effects floor", stack, effects_one, 5)
        await run_phase("warm-up real", stack, lambda i: invoice_one(10_000 + i), 5)
        # Rounds of the three phases in turn: the machine's speed drifts (other tenants),
        # and a drift then touches every phase alike instead of one.
        rounds: list[dict[str, Phase]] = []
        profiled = ""
        for r in range(ROUNDS):
            base = 100 + r * N
            floor = await run_phase("floor", stack, lambda i, b=base: floor_one(b + i), N)
            await asyncio.sleep(2)
            searchable = await run_phase(
                "floor with search attributes",
                stack,
                lambda i, b=base: floor_one(b + i, True),
                N,
            )
            await asyncio.sleep(2)
            effects_floor = await run_phase(
                "effects floor", stack, lambda i, b=base: effects_one(b + i), N
            )
            await asyncio.sleep(2)
            profile = (
                WorkerProfile(stack.pid("worker"), stack.root / "worker-profile.txt")
                if os.environ.get("BENCH_PROFILE") and r == 0
                else None
            )
            real = await run_phase("real", stack, lambda i, b=base: invoice_one(b + i), N)
            if profile:
                profiled = profile.stop()
            rounds.append({p.name: p for p in (floor, searchable, effects_floor, real)})
            await asyncio.sleep(2)
        floor, searchable, effects_floor, real = (
            merge(*(r[name] for r in rounds)) for name in rounds[0]
        )
        real_starts = api_latencies[5:]  # not the warm-up's
        real_segments = segments[5:]
        worker_peak = peak_rss_mb(stack.pid("worker"))  # before the start phases' backlog
        await asyncio.sleep(2)

        bare, same, api_only = await measure_starts(
            stack, client, contracts, run, lambda i: start_invoice(20_000 + i)
        )
        api_start = [latency for _, latency in api_only.latencies]  # type: ignore[misc]

        sample = client.get_workflow_handle(
            f"invoice-{(await api.get('/invoices', params={'status': 'CLOSED', 'limit': 1})).json()['items'][0]['id']}"
        )
        history = await sample.fetch_history()
        if os.environ.get("BENCH_TIMELINE"):
            first = history.events[0].event_time.ToDatetime()
            for event in history.events:
                offset = (event.event_time.ToDatetime() - first).total_seconds() * 1000
                print(f"{offset:8.0f} ms  {EventType.Name(event.event_type)}")
        events = {
            real.name: len(history.events),
            floor.name: len(
                (await client.get_workflow_handle(f"floor-{run}-100").fetch_history()).events
            ),
            searchable.name: len(
                (await client.get_workflow_handle(f"floor-{run}-s100").fetch_history()).events
            ),
            effects_floor.name: len(
                (await client.get_workflow_handle(f"effects-{run}-100").fetch_history()).events
            ),
        }

    columns = [
        Column("floor", floor, "floor-worker"),
        Column("floor + SA", searchable, "floor-worker"),
        Column("effects floor", effects_floor, "effects-worker", "effects-api", "effects-sandbox"),
        Column("real", real, "worker", "api", "sandbox"),
    ]
    report(columns, real_starts, bare, same, api_start, events, worker_peak)
    print(ratio_line("real/floor", ratios_by_round(rounds, real.name, floor.name)))
    print(
        ratio_line(
            "real/effects floor", ratios_by_round(rounds, real.name, effects_floor.name), 0.85
        )
    )
    print(
        ratio_line("effects floor/floor", ratios_by_round(rounds, effects_floor.name, floor.name))
    )
    print(server_report([c.label for c in columns], [c.phase.server for c in columns]))
    print(profiled)
    names = (
        "API start",
        "generate + payment link (as seen)",
        "pay at provider",
        "e-mail, webhook -> paid -> posted -> closed",
    )
    print("\nwhere an invoice's end-to-end time goes (p50 / p99 ms):")
    for index, name in enumerate(names):
        values = [segment[index] for segment in real_segments]
        print(f"  {name:40}{pct(values, 50) * 1000:8.0f}{pct(values, 99) * 1000:8.0f}")


def report(
    columns: list[Column],
    real_starts: list[float],
    bare: Phase,
    same: Phase,
    api_start: list[float],
    events: dict[str, int],
    worker_peak: float,
) -> None:
    ms = 1000
    cores = os.cpu_count() or 1
    print(
        f"\nInvoiceFlow lifecycle benchmark: {ROUNDS} rounds of {N} workflows per phase, "
        f"{CONCURRENCY} concurrent clients, "
        f"{WORKERS} invoice worker(s), {cores} cores, "
        f"workflow sandbox {'on' if get_settings().workflow_sandbox else 'off'}, "
        f"payload codec {'off' if os.environ.get('BENCH_CODEC') == 'off' else 'on'}\n"
    )
    print("\n".join(table(columns, events, cores)))
    floor, searchable, effects_floor, real = (c.phase for c in columns)
    print(
        f"\nratio real/floor throughput: {real.throughput / floor.throughput:.2f} (target >= 0.8); "
        f"real/(floor + SA): {real.throughput / searchable.throughput:.2f}; "
        f"real/effects floor: {real.throughput / effects_floor.throughput:.2f} (target >= 0.85)"
    )
    print(f"history events per happy-path invoice: {events[real.name]} (target <= 36)")
    print(f"worker peak memory (VmHWM): {worker_peak:.0f} MiB")
    print(f"\nstart latency at {CONCURRENCY} concurrent clients (ms):")
    print(f"{'':44}   p50     p99")
    for label, values in (
        ("workers paused: bare, empty workflow", bare.latencies),
        ("workers paused: bare, the API's request", same.latencies),
        ("workers paused: POST /invoices", api_start),
        ("POST /invoices during the real phase", real_starts),
    ):
        print(f"  {label:42}{pct(values, 50) * ms:6.0f}  {pct(values, 99) * ms:6.0f}")
    print(
        f"API start p99 / bare start p99 (same request): "
        f"{pct(api_start, 99) / pct(same.latencies, 99):.2f} (target <= 1.25); "
        f"against the empty workflow's start: {pct(api_start, 99) / pct(bare.latencies, 99):.2f}"
    )


if __name__ == "__main__":
    eventloop.run(main())  # uvloop, as the processes it measures
