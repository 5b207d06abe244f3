"""kill -9 the worker three times, at seeded random moments, while CHAOS_INVOICES invoices
are in flight (paid as their links appear), restarting it each time: every invoice closes,
and every effect lands once; an extra SMTP copy is allowed only where a kill explains it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.chaos.harness import (
    Copy,
    Explainer,
    Figures,
    N,
    Run,
    buyers,
    check_effects,
    count_effects,
    rng,
)
from tests.support.processes import ProcessStack
from tests.support.stack import Stack

KILLS = 3
# An e-mail the SMTP server kept up to this long before a kill may be sent again: the
# worker can die between the "250" and recording the delivery, within one attempt's time.
KILL_WINDOW = timedelta(seconds=15)


def explained_by(kills: list[datetime]) -> Explainer:
    def explain(copies: list[Copy]) -> str | None:
        first, later = copies[0].at, copies[1:]
        for kill in kills:
            if first <= kill <= first + KILL_WINDOW and all(c.at >= kill for c in later):
                before = (kill - first).total_seconds()
                return f"kept {before:.1f} s before the kill at {kill:%H:%M:%S}, sent again after"
        return None

    return explain


async def test_worker_killed_three_times_during_in_flight_invoices(
    processes: tuple[ProcessStack, Stack],
) -> None:
    stack_processes, stack = processes
    chance = rng("worker-kills")
    # kill when the providers have taken this many calls (about five per invoice: link,
    # payment, webhook, two posts): seeded moments spread over the run, effects in flight
    thresholds = sorted(chance.sample(range(N // 2, N * 3), KILLS))
    downtimes = [chance.uniform(0.5, 4.0) for _ in range(KILLS)]
    figures = Figures("worker kill -9 x3", invoices=N)
    kills: list[datetime] = []
    loop = asyncio.get_running_loop()
    async with Run(stack, await buyers(stack), "kills") as run:
        t0 = loop.time()
        starting = asyncio.create_task(run.start(N))
        for n, (threshold, down) in enumerate(zip(thresholds, downtimes, strict=True), 1):
            await run.wait_calls(threshold)
            in_flight = len(run.channel) - len(run.closed)
            await stack_processes.stop("worker")
            kills.append(datetime.now(UTC))
            await asyncio.sleep(down)  # the fault's length, not a wait for anything
            restarted = await stack_processes.start_worker()
            figures.notes.append(
                f"kill {n}: at provider call {threshold}, {in_flight} invoices open,"
                f" worker down {down:.1f} s plus its start-up"
            )
            effects_back, closing_back = await run.recovery(restarted)
            figures.recoveries.append(
                (f"kill {n}: worker up to its next accounting call", effects_back)
            )
            figures.recoveries.append(
                (f"kill {n}: worker up to the next invoice closed", closing_back)
            )
        ids = await starting
        figures.notes.append(
            f"all {N} accepted by the API within {max(run.accepted_at) - t0:.1f} s"
        )
        done = await run.wait_all_closed(ids)
        figures.wall_s = done - t0
        figures.recoveries.append(("drain: last restart to all closed", done - restarted))
        workflows = await run.completed_workflows()
        effects = await count_effects(stack, ids)
    check_effects(run, effects, figures, explained_by(kills), workflows)
    assert stack_processes.worker_starts == KILLS + 1
