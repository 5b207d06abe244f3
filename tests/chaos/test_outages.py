"""Provider outage windows while invoices are created and paid: the SMTP server refusing
(451), the providers answering 5xx, the providers and then the SMTP server answering past
the client's timeout, having done the work. After each window everything is delivered and
posted once; an SMTP copy is allowed only for a message kept while its answer was late."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.chaos.harness import (
    WINDOW_S,
    Copy,
    Figures,
    Run,
    buyers,
    check_effects,
    count_effects,
    invoices,
)
from tests.support.processes import running_processes

PROVIDER_TIMEOUT_S = 5.0  # the worker's HTTP timeout in this stack (default 10)
SMTP_TIMEOUT_S = 10.0  # integrations.email.SmtpSettings.timeout
WINDOWS: list[tuple[str, dict[str, Any]]] = [
    ("SMTP refusing (451)", {"api": "smtp", "outage": True}),
    ("providers 5xx (503)", {"api": "*", "outage": True}),
    # the provider does the work, answering after the client gave up: the retry replays
    ("provider timeouts", {"api": "*", "latency_ms": int(PROVIDER_TIMEOUT_S * 1000) + 2000}),
    # the server keeps the message, its 250 comes after the client gave up: a second copy
    ("SMTP timeouts", {"api": "smtp", "latency_ms": int(SMTP_TIMEOUT_S * 1000) + 2000}),
]


async def test_provider_outage_windows_deliver_and_post_everything_once_after(
    tmp_path: Path, sqlite_url: str
) -> None:
    per_window = max(5, invoices(0.3) // len(WINDOWS))
    figures = Figures("provider outage windows", invoices=per_window * len(WINDOWS))
    timeouts: list[tuple[datetime, datetime]] = []
    loop = asyncio.get_running_loop()
    async with (
        running_processes(tmp_path, sqlite_url, provider_timeout_s=PROVIDER_TIMEOUT_S) as (
            _,
            stack,
        ),
        Run(stack, await buyers(stack), "outages") as run,
    ):
        t0 = loop.time()
        ids: list[str] = []
        for n, (name, fault) in enumerate(WINDOWS):
            began = datetime.now(UTC)
            (await stack.sandbox.post("/_sandbox/faults", json=fault)).raise_for_status()
            window = await run.trickle(per_window, WINDOW_S, first=n * per_window)
            (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()
            ended, cleared = datetime.now(UTC), loop.time()
            if name == "SMTP timeouts":
                timeouts.append((began, ended))
            ids += window
            done = await run.wait_all_closed(window)
            figures.recoveries.append(
                (f"{name}: window end to its {len(window)} invoices closed", done - cleared)
            )
            figures.notes.append(f"{name}: {WINDOW_S:.0f} s, {await _bitten(stack, began, ended)}")
        figures.wall_s = loop.time() - t0
        workflows = await run.completed_workflows()
        effects = await count_effects(stack, ids)

    late = timedelta(seconds=SMTP_TIMEOUT_S + 5)

    def explain(copies: list[Copy]) -> str | None:
        first = copies[0].at
        for began, ended in timeouts:
            if began <= first <= ended + late:
                return "kept while its answer was held past the client's timeout, sent again"
        return None

    check_effects(run, effects, figures, explain, workflows)


async def _bitten(stack: Any, began: datetime, ended: datetime) -> str:
    """What the fault did, counted at the sandbox: refused SMTP, 5xx and slow calls."""
    receptions = (await stack.sandbox.get("/_sandbox/smtp/receptions")).json()
    refused = Counter(
        r["outcome"]
        for r in receptions
        if r["outcome"].startswith("refused") and began <= datetime.fromisoformat(r["at"]) <= ended
    )
    calls = (await stack.sandbox.get("/_sandbox/calls")).json()
    noted = Counter(
        c["note"] or str(c["status"])
        for c in calls
        if began <= datetime.fromisoformat(c["at"]) <= ended and c["api"] != "webhooks"
    )
    hit = sum(refused.values()) + sum(noted.values())
    assert hit, "the window touched nothing"
    return f"SMTP {dict(refused) or 'no refusals'}, provider calls {dict(noted)}"
