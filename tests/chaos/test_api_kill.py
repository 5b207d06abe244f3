"""kill -9 the API during a burst of ``POST /invoices`` with Idempotency-Keys, restart it,
then repeat every request with its key: each invoice exists once (one row, one workflow,
the same id in every answer), and each then runs to CLOSED with its effects once."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from schemas.tables import Invoice
from store.db import transaction
from tests.chaos.harness import (
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


async def test_api_killed_during_a_burst_of_idempotent_posts(
    processes: tuple[ProcessStack, Stack],
) -> None:
    stack_processes, stack = processes
    count = invoices(0.3)
    kill_after = rng("api-kill").randrange(count // 5, count // 2)  # answers before the kill
    figures = Figures("API kill -9 during a POST /invoices burst", invoices=count)
    loop = asyncio.get_running_loop()
    async with Run(stack, await buyers(stack), "burst") as run:
        t0 = loop.time()
        limit = asyncio.Semaphore(8)

        async def once(n: int) -> str | None:
            async with limit:
                return await run.post_invoice(n, retry=False)

        burst = [asyncio.create_task(once(n)) for n in range(count)]
        while len(run.accepted_at) < kill_after:  # noqa: ASYNC110 (the moment is a count)
            await asyncio.sleep(0.01)
        await stack_processes.stop("api")
        first = await asyncio.gather(*burst)
        answered = sum(1 for i in first if i is not None)
        back = await stack_processes.start("api")
        figures.notes.append(
            f"killed after {kill_after} answers: {answered} of {count} answered before,"
            f" {count - answered} cut off; the API back {back - t0:.1f} s into the run"
        )
        again = [str(await run.post_invoice(n)) for n in range(count)]  # every key again
        figures.recoveries.append(("API up to every request answered", loop.time() - back))
        for n, invoice_id in enumerate(first):
            assert invoice_id in (None, again[n]), (n, invoice_id, again[n])
        assert len(set(again)) == count
        keys = {key: {a["invoice_id"] for a in answers} for key, answers in run.answers.items()}
        assert all(len(ids) == 1 for ids in keys.values()), keys
        async with transaction(stack.sessions, writes=False) as session:
            rows = (await session.exec(select(Invoice.id))).all()
        assert sorted(rows) == sorted(set(again)), "an invoice row missing or twice"
        ids = again
        done = await run.wait_all_closed(ids)
        figures.wall_s = done - t0
        workflows = await run.completed_workflows()
        effects = await count_effects(stack, ids)
    check_effects(run, effects, figures, lambda copies: None, workflows)
