"""Lost responses: the provider did the work and the answer never came (fail_after_commit
on payment links and payments, SMS, both accounting posts, and the SMTP server's "250").
Each retry finds the first effect: one link, one charge, one post, one text; an e-mail
whose "250" was lost reaches the server twice, and the mailbox keeps one."""

from __future__ import annotations

import asyncio

from tests.chaos.harness import (
    Copy,
    Figures,
    Run,
    buyers,
    check_effects,
    count_effects,
    invoices,
)
from tests.support.processes import ProcessStack
from tests.support.stack import Stack


async def test_lost_responses_leave_one_effect_each(
    processes: tuple[ProcessStack, Stack],
) -> None:
    _, stack = processes
    count = invoices(0.2)
    budgets = {"payments": count // 2, "accounting": count // 2, "sms": 2, "smtp": count // 4}
    figures = Figures("lost responses (fail_after_commit)", invoices=count)
    for api, budget in budgets.items():
        fault = {"api": api, "fail_after_commit": budget}
        (await stack.sandbox.post("/_sandbox/faults", json=fault)).raise_for_status()
    loop = asyncio.get_running_loop()
    async with Run(stack, await buyers(stack), "lost") as run:
        t0 = loop.time()
        ids = await run.start(count)
        done = await run.wait_all_closed(ids)
        figures.wall_s = done - t0
        workflows = await run.completed_workflows()
        effects = await count_effects(stack, ids)
        left = {
            s["profile"]["api"]: s["fail_after_commit_remaining"]
            for s in (await stack.sandbox.get("/_sandbox/faults")).json()
        }
    lost = {api: budget - left[api] for api, budget in budgets.items()}
    figures.notes.append(f"answers lost after the effect, per API: {lost} (budgets {budgets})")

    def explain(copies: list[Copy]) -> str | None:
        if copies[0].outcome == "lost" and len(copies) == 2:
            return "its 250 was lost (fail_after_commit): sent again, the mailbox kept one"
        return None

    check_effects(run, effects, figures, explain, workflows)
    # every budget but the SMS one (only texted invoices use it) was used up: each fault bit
    assert all(left[api] == 0 for api in ("payments", "accounting", "smtp")), left
    assert len(effects.duplicated()) == lost["smtp"]
