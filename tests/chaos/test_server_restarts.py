"""Restart the Temporal dev server mid-run on its persisted database, once with SIGTERM and
once with kill -9, while invoices are in flight: every workflow resumes and completes, and
every effect lands once. The worker and the API stay up throughout and reconnect."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta

from tests.chaos.harness import (
    Copy,
    Figures,
    Run,
    buyers,
    check_effects,
    count_effects,
    invoices,
    rng,
)
from tests.support.processes import ProcessStack
from tests.support.stack import Stack

RESTARTS = ((signal.SIGTERM, "SIGTERM"), (signal.SIGKILL, "kill -9"))
# an e-mail kept this long before the server went away may be sent again: the worker's
# activity could not report its completion to a server that was not there
OUTAGE_WINDOW = timedelta(seconds=30)


async def test_temporal_server_restarted_mid_run_on_its_persisted_database(
    processes: tuple[ProcessStack, Stack],
) -> None:
    stack_processes, stack = processes
    count = invoices(0.5)
    chance = rng("server-restarts")
    thresholds = sorted(chance.sample(range(count // 2, count * 3), len(RESTARTS)))
    figures = Figures("Temporal dev server restart (SIGTERM, kill -9)", invoices=count)
    outages: list[tuple[datetime, datetime]] = []
    loop = asyncio.get_running_loop()
    async with Run(stack, await buyers(stack), "restarts") as run:
        t0 = loop.time()
        starting = asyncio.create_task(run.start(count))
        for (signum, name), threshold in zip(RESTARTS, thresholds, strict=True):
            await run.wait_calls(threshold)
            in_flight = len(run.channel) - len(run.closed)
            went, signalled = datetime.now(UTC), loop.time()
            stopped = await stack_processes.stop("temporal", signum)
            restarted = await stack_processes.start("temporal")
            outages.append((went, datetime.now(UTC)))
            figures.notes.append(
                f"{name}: at provider call {threshold}, {in_flight} invoices open, server"
                f" exited in {stopped - signalled:.1f} s,"
                f" back {restarted - stopped:.1f} s after"
            )
            posting, closing = await run.recovery(restarted)
            figures.recoveries.append((f"{name}: server up to the next accounting call", posting))
            figures.recoveries.append((f"{name}: server up to the next invoice closed", closing))
            assert stack_processes.running("worker"), stack_processes.tail("worker")
            assert stack_processes.running("api"), stack_processes.tail("api")
        ids = await starting
        done = await run.wait_all_closed(ids)
        figures.wall_s = done - t0
        figures.recoveries.append(("drain: last restart to all closed", done - restarted))
        workflows = await run.completed_workflows()
        effects = await count_effects(stack, ids)

    def explain(copies: list[Copy]) -> str | None:
        first = copies[0].at
        for went, back in outages:
            if went - OUTAGE_WINDOW <= first <= back:
                return f"kept while the server went away at {went:%H:%M:%S}, sent again after"
        return None

    check_effects(run, effects, figures, explain, workflows)
    assert stack_processes.worker_starts == 1  # the worker rode it out
