"""Reminders due during a worker outage: kill -9 the worker before the first of three
reminder steps falls due, keep it down past the second, restart it. At the receiving side,
per invoice: the second step's reminder once (the latest of those that fell due while
nothing could send them), none for the first (recorded as superseded by the second), and
the third once, at its own time; no raw SMTP copy twice.

The steps are set minutes apart with a time of day (``ReminderStep.at``, in the customer's
zone, UTC here), so they fall due within the run on the dev server's real clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.chaos.harness import Figures, invoices, persist, report
from tests.e2e.test_lifecycle import RATES
from tests.support.processes import ProcessStack
from tests.support.stack import Stack

COUNT = invoices(0.07)  # 21 at the default 300
LEAD = timedelta(seconds=100)  # first step this long after the invoices are sent
GAP = timedelta(minutes=1)  # between the steps


def _step(key: str, moment: datetime, today: Any) -> dict[str, Any]:
    return {
        "key": key,
        "anchor": "issue",
        "days": (moment.date() - today).days,
        "at": moment.strftime("%H:%M:%S"),
        "tone": "gentle",
    }


async def _reminder_copies(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    response = await stack.sandbox.get("/_sandbox/smtp/receptions")
    response.raise_for_status()
    copies: dict[str, list[dict[str, Any]]] = {}
    for r in response.json():
        if r["outcome"] in ("accepted", "duplicate", "lost") and ".reminder-" in (
            r["message_id"] or ""
        ):
            copies.setdefault(r["message_id"], []).append(r)
    return copies


async def _wait(condition: Any, what: str, timeout: float = 600) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await condition()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(1)


async def test_reminders_due_during_a_worker_outage_are_sent_once(
    processes: tuple[ProcessStack, Stack],
) -> None:
    stack_processes, stack = processes
    figures = Figures(
        "reminders due during a worker outage", invoices=COUNT, ends="every reminder sent"
    )
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    now = datetime.now(UTC).replace(microsecond=0)
    first = now + LEAD + timedelta(seconds=60 - (now + LEAD).second)  # on a minute
    moments = [first, first + GAP, first + 3 * GAP]
    today = now.date()
    customer = (
        await stack.api.post(
            "/customers",
            json={"name": "Late Payer Ltd", "email": "late@acme.test", "timezone": "UTC"},
        )
    ).json()
    contract = await stack.api.post(
        "/contracts",
        json={
            "currency": "GBP",
            "tax_region": "GB",
            "rates": RATES,
            "customer_id": customer["id"],
            "payment_terms_days": 0,
            "reminders": {"steps": [_step(f"r{i}", m, today) for i, m in enumerate(moments, 1)]},
        },
    )
    assert contract.status_code == 201, contract.text
    ids = [
        await _post_invoice(stack, customer["id"], contract.json()["id"], n) for n in range(COUNT)
    ]
    for invoice_id in ids:
        await _wait(lambda i=invoice_id: _issued(stack, i), f"{invoice_id} sent")

    # down from before the first step until after the second
    await asyncio.sleep(max(0.0, (moments[0] - datetime.now(UTC)).total_seconds() - 20))
    await stack_processes.stop("worker")
    killed = datetime.now(UTC)
    await asyncio.sleep(max(0.0, (moments[1] - datetime.now(UTC)).total_seconds() + 15))
    restarted = await stack_processes.start_worker()
    figures.notes.append(
        f"worker killed {(moments[0] - killed).total_seconds():.0f} s before step r1,"
        f" back {(datetime.now(UTC) - moments[1]).total_seconds():.0f} s after step r2"
    )

    async def second_sent() -> dict[str, list[dict[str, Any]]] | None:
        copies = await _reminder_copies(stack)
        sent = {m for m in copies if "reminder-r2" in m}
        return copies if len(sent) >= COUNT else None

    await _wait(second_sent, "r2 reminders after the restart")
    figures.recoveries.append(("worker up to every r2 reminder sent", loop.time() - restarted))

    async def third_sent() -> dict[str, list[dict[str, Any]]] | None:
        copies = await _reminder_copies(stack)
        sent = {m for m in copies if "reminder-r3" in m}
        return copies if len(sent) >= COUNT else None

    copies = await _wait(third_sent, "r3 reminders at their time")
    figures.wall_s = loop.time() - t0
    per_step = Counter(m.split(".reminder-")[1].split("@")[0] for m in copies)
    raw = sum(len(c) for c in copies.values())
    figures.effects = {"emails": len(copies)}
    figures.smtp_raw = raw
    figures.notes.append(f"reminders per step (distinct Message-IDs): {dict(per_step)}")
    outcomes: Counter[tuple[str, str]] = Counter()
    for invoice_id in ids:
        record = (await stack.api.get(f"/invoices/{invoice_id}")).json()
        outcomes.update((r["step_key"], r["outcome"]) for r in record["reminders"])
    figures.notes.append(f"reminder rows: {dict(outcomes)}")
    figures.duplicates = [f"{m} x{len(c)}" for m, c in copies.items() if len(c) > 1]
    report(figures)
    assert per_step == Counter({"r2": COUNT, "r3": COUNT})
    assert raw == 2 * COUNT, figures.duplicates
    assert outcomes == Counter(
        {("r1", "superseded"): COUNT, ("r2", "sent"): COUNT, ("r3", "sent"): COUNT}
    )


async def _post_invoice(stack: Stack, customer_id: str, contract_id: str, n: int) -> str:
    body = {
        "customer_id": customer_id,
        "contract_id": contract_id,
        "items": [{"rate_code": "senior", "quantity": "1"}],
    }

    async def call() -> Any:
        return await stack.api.post(
            "/invoices", json=body, headers={"Idempotency-Key": f"remind-{n}"}
        )

    answer = await persist(call, "POST /invoices")
    invoice_id: str = answer.json()["invoice_id"]
    return invoice_id


async def _issued(stack: Stack, invoice_id: str) -> bool:
    body = (await stack.api.get(f"/invoices/{invoice_id}")).json()
    live = body.get("live") or {}
    return bool(live.get("payment_url")) and live.get("status") == "ISSUED"
