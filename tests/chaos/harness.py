"""What every chaos scenario does: start invoices through the API, pay each one as its
payment link appears (as a customer would), watch them close, and count every effect where
it lands: raw SMTP receptions (copies included) and the distinct messages the mailbox keeps,
text messages, payment links, charges and accounting posts, per invoice.

Each scenario fills a `Figures` and `report`s it; tests/chaos/conftest.py prints them all at
the end of the run. Waits are on conditions with generous deadlines, never fixed sleeps: the
machine is small and shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlmodel import col, select

from schemas.ids import invoice_workflow_id
from schemas.tables import Invoice
from store.db import transaction
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack

# CHAOS_INVOICES: the worker-kill scenario's invoices (the 300); the others run a
# share of it (see `invoices`). CHAOS_SEED: the kill moments, downtimes and fault budgets.
N = int(os.environ.get("CHAOS_INVOICES", "300"))
SEED = int(os.environ.get("CHAOS_SEED", "15"))
WINDOW_S = float(os.environ.get("CHAOS_WINDOW_S", "15"))  # one provider outage window
DEADLINE_S = float(os.environ.get("CHAOS_DEADLINE_S", "900"))  # for a whole run to close
# every CHAOS_SMS_EVERY-th customer's mailbox refuses mail: their invoices go by text (0: none)
SMS_EVERY = int(os.environ.get("CHAOS_SMS_EVERY", "5"))

KINDS = ("emails", "sms", "payment_links", "charges", "accounting_invoices", "accounting_payments")


def invoices(share: float) -> int:
    return max(10, round(N * share))


def rng(scenario: str) -> random.Random:
    return random.Random(f"{SEED}:{scenario}")


# -- the figures -------------------------------------------------------------------------


@dataclass
class Figures:
    scenario: str
    invoices: int = 0
    wall_s: float = 0.0
    effects: dict[str, int] = field(default_factory=dict)  # distinct, per kind, all invoices
    smtp_raw: int = 0  # SMTP DATA the server kept (copies included)
    duplicates: list[str] = field(default_factory=list)  # each with its explanation
    recoveries: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ends: str = "all closed"  # what the run waited for (the reminders' run leaves them open)

    def render(self) -> str:
        lines = [
            f"== {self.scenario}: {self.invoices} invoices, {self.ends} in {self.wall_s:.0f} s"
        ]
        lines.append(
            "   effects: "
            + ", ".join(f"{k} {self.effects.get(k, 0)}" for k in KINDS)
            + f"; raw SMTP receptions {self.smtp_raw}"
        )
        lines.append(f"   duplicates: {len(self.duplicates)}")
        lines += [f"     - {d}" for d in self.duplicates]
        lines += [
            f"   recovery, {what}: " + (f"{seconds:.1f} s" if seconds == seconds else "n/a")
            for what, seconds in self.recoveries
        ]
        lines += [f"   {note}" for note in self.notes]
        return "\n".join(lines)


FIGURES: list[Figures] = []


def report(figures: Figures) -> None:
    FIGURES.append(figures)
    print("\n" + figures.render(), flush=True)


# -- driving invoices ----------------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    customer_id: str
    contract_id: str
    channel: str  # "email" or "sms" (the mailbox refuses: the invoice goes by text)


async def buyers(stack: Stack, count: int = 10) -> list[Buyer]:
    made = []
    for i in range(count):
        sms = SMS_EVERY > 0 and i % SMS_EVERY == SMS_EVERY - 1
        email = f"bounce+chaos{i}@acme.test" if sms else f"chaos{i}@acme.test"
        extra = {"phone": f"+4477009{i:05d}"} if sms else {}
        customer, contract = await customer_and_contract(
            stack, email=email, name=f"Chaos {i} Ltd", **extra
        )
        made.append(Buyer(customer["id"], contract["id"], "sms" if sms else "email"))
    return made


RETRIED_STATUSES = {409, 429, 500, 502, 503, 504}


async def persist(
    call: Callable[[], Awaitable[httpx.Response]], what: str, deadline_s: float = 300
) -> httpx.Response:
    """Send until answered for good: a dead process, a 409 for a key still held by a killed
    request, a 503 while Temporal is away are retried (with the same key, by the caller)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            response = await call()
            if response.status_code not in RETRIED_STATUSES:
                return response
            last: object = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as err:
            last = repr(err)
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: no answer within {deadline_s}s (last: {last})")
        await asyncio.sleep(0.5)


class Run:
    """Invoices started through the API, paid as their links appear, watched until CLOSED."""

    def __init__(self, stack: Stack, buyers: list[Buyer], name: str) -> None:
        self.stack = stack
        self.buyers = buyers
        self.name = name
        self.channel: dict[str, str] = {}  # invoice id -> channel
        self.answers: dict[str, list[dict[str, Any]]] = {}  # idempotency key -> answers
        self.started_at = asyncio.get_running_loop().time()
        self.timeline: list[tuple[float, int]] = []  # (loop time, invoices closed)
        self.closed: set[str] = set()
        self._paying: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.pay_errors: Counter[str] = Counter()
        self.failures: list[str] = []
        self.accepted_at: list[float] = []  # loop time of each 202

    async def __aenter__(self) -> Run:
        self._tasks = [asyncio.create_task(self._pay_loop()), asyncio.create_task(self._watch())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in [*self._tasks, *self._paying.values()]:
            task.cancel()
        for task in [*self._tasks, *self._paying.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def request(self, n: int) -> tuple[str, dict[str, Any]]:
        """The n-th invoice request of this run: its Idempotency-Key and body."""
        buyer = self.buyers[n % len(self.buyers)]
        body = {
            "customer_id": buyer.customer_id,
            "contract_id": buyer.contract_id,
            "items": [{"rate_code": "senior", "quantity": str(1 + n % 7)}],
        }
        return f"{self.name}-{n}", body

    async def post_invoice(self, n: int, *, retry: bool = True) -> str | None:
        """POST /invoices with the request's key; its invoice id (None: no answer, and
        `retry` off)."""
        key, body = self.request(n)

        async def call() -> httpx.Response:
            return await self.stack.api.post(
                "/invoices", json=body, headers={"Idempotency-Key": key}
            )

        if retry:
            response = await persist(call, f"POST /invoices {key}")
        else:
            try:
                response = await call()
            except httpx.TransportError:
                return None
            if response.status_code in RETRIED_STATUSES:
                return None
        assert response.status_code == 202, (key, response.status_code, response.text)
        answer = response.json()
        self.accepted_at.append(asyncio.get_running_loop().time())
        self.answers.setdefault(key, []).append(answer)
        invoice_id: str = answer["invoice_id"]
        buyer = self.buyers[n % len(self.buyers)]
        self.channel[invoice_id] = buyer.channel
        return invoice_id

    async def start(self, count: int, *, first: int = 0, concurrency: int = 8) -> list[str]:
        limit = asyncio.Semaphore(concurrency)

        async def one(n: int) -> str:
            async with limit:
                invoice_id = await self.post_invoice(n)
                assert invoice_id is not None
                return invoice_id

        return list(await asyncio.gather(*(one(n) for n in range(first, first + count))))

    async def trickle(self, count: int, over_s: float, *, first: int) -> list[str]:
        """Start `count` invoices spread evenly over `over_s` seconds."""
        tasks = []
        for n in range(first, first + count):
            tasks.append(asyncio.create_task(self.post_invoice(n)))
            await asyncio.sleep(over_s / count)
        return [i for i in await asyncio.gather(*tasks) if i is not None]

    async def _pay_loop(self) -> None:
        """The customers: each link of ours is paid in full once it exists, with a key of
        its own per invoice, retried until the provider took it."""
        while True:
            with contextlib.suppress(httpx.HTTPError):
                links = await self._records("payment_link")
                for link in links:
                    ref = link["reference"]
                    if ref in self.channel and ref not in self._paying:
                        self._paying[ref] = asyncio.create_task(self._pay(link))
            await asyncio.sleep(0.3)

    async def _pay(self, link: dict[str, Any]) -> None:
        async def call() -> httpx.Response:
            return await self.stack.sandbox.post(
                f"/payments/v1/links/{link['id']}/payments",
                json={"amount_minor": link["amount_minor"]},
                headers={"Idempotency-Key": f"pay-{link['reference']}"},
            )

        response = await persist(call, f"pay {link['reference']}", deadline_s=DEADLINE_S)
        if response.status_code != 201:
            self.pay_errors[f"{response.status_code} {response.text[:120]}"] += 1

    async def _records(self, kind: str) -> list[dict[str, Any]]:
        response = await self.stack.sandbox.get(f"/_sandbox/records/{kind}")
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        return records

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(Exception):  # a locked SQLite file: read again
                async with transaction(self.stack.sessions, writes=False) as session:
                    rows = await session.exec(
                        select(Invoice.id).where(col(Invoice.status) == "CLOSED")
                    )
                    self.closed = set(rows.all()) & set(self.channel)
                self.timeline.append((loop.time(), len(self.closed)))
            await asyncio.sleep(0.5)

    async def wait_closed(self, count: int, timeout: float = DEADLINE_S) -> float:
        """Wait until `count` invoices of the run are CLOSED; the moment (loop time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.closed) < count:
            if loop.time() > deadline:
                open_ = sorted(set(self.channel) - self.closed)[:5]
                raise AssertionError(
                    f"{len(self.closed)}/{count} closed after {timeout}s; open: {open_};"
                    f" pay errors: {dict(self.pay_errors)}"
                )
            await asyncio.sleep(0.2)
        return loop.time()

    async def wait_all_closed(self, ids: list[str], timeout: float = DEADLINE_S) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wanted = set(ids)
        while not wanted <= self.closed:
            if loop.time() > deadline:
                open_ = sorted(wanted - self.closed)
                raise AssertionError(
                    f"{len(open_)} of {len(wanted)} not closed after {timeout}s: {open_[:5]};"
                    f" pay errors: {dict(self.pay_errors)}"
                )
            await asyncio.sleep(0.2)
        return loop.time()

    def first_close_after(self, moment: float) -> float:
        """Seconds from `moment` until the closed count next grew (recovery: progress again)."""
        before = max((n for t, n in self.timeline if t <= moment), default=0)
        for t, n in self.timeline:
            if t > moment and n > before:
                return t - moment
        return float("nan")

    async def provider_calls(self, api: str | None = None) -> int:
        """The provider sandbox's call log so far: the last call's seq (all APIs: how many
        calls; one API: a number that grows with each of its calls)."""
        params: dict[str, Any] = {"limit": 1, **({"api": api} if api else {})}
        response = await self.stack.sandbox.get("/_sandbox/calls", params=params)
        response.raise_for_status()
        calls = response.json()
        return int(calls[-1]["seq"]) if calls else 0

    async def wait_calls(self, count: int, timeout: float = DEADLINE_S) -> None:
        """Wait until the providers have taken `count` calls: effects are flowing."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (seen := await self.provider_calls()) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{seen}/{count} provider calls after {timeout}s")
            await asyncio.sleep(0.1)

    async def recovery(self, moment: float, timeout: float = 300) -> tuple[float, float]:
        """From `moment` (a restart, a window's end): seconds until the worker's next call
        to accounting (only the worker calls it), and until an invoice closes again (NaN
        if none was left open)."""
        loop = asyncio.get_running_loop()
        calls = await self.provider_calls("accounting")
        deadline = loop.time() + timeout
        while await self.provider_calls("accounting") == calls:  # noqa: ASYNC110
            if loop.time() > deadline or len(self.closed) == len(self.channel):
                break
            await asyncio.sleep(0.1)
        effects = loop.time() - moment
        closed = float("nan")
        while loop.time() < deadline and len(self.closed) < len(self.channel):
            closed = self.first_close_after(moment)
            if closed == closed:  # not NaN: one closed
                break
            await asyncio.sleep(0.2)
        return effects, closed

    async def completed_workflows(self) -> Counter[str]:
        """Each invoice's workflow as Temporal reports it (COMPLETED for every one); why the
        first few others ended as they did goes into `self.failures`."""
        statuses: Counter[str] = Counter()
        for invoice_id in self.channel:
            handle = self.stack.temporal.get_workflow_handle(invoice_workflow_id(invoice_id))
            described = await handle.describe()
            status = described.status.name if described.status else "UNKNOWN"
            statuses[status] += 1
            if status != "COMPLETED" and len(self.failures) < 3:
                try:
                    await handle.result()
                except Exception as err:
                    cause = getattr(err, "cause", None)
                    self.failures.append(f"{invoice_id} ({self.channel[invoice_id]}): {cause!r}")
        return statuses


# -- counting effects where they land ---------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    message_id: str
    invoice_id: str
    outcome: str  # accepted, duplicate, lost
    at: datetime


@dataclass
class Effects:
    per_invoice: dict[str, Counter[str]]  # invoice id -> kind -> distinct count
    copies: dict[str, list[Copy]]  # Message-ID -> every copy the SMTP server kept

    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for counts in self.per_invoice.values():
            total.update(counts)
        return {k: total[k] for k in KINDS}

    def raw_smtp(self) -> int:
        return sum(len(c) for c in self.copies.values())

    def duplicated(self) -> list[list[Copy]]:
        return [c for c in self.copies.values() if len(c) > 1]


def invoice_of(message_id: str) -> str:
    """Our Message-IDs are ``<{invoice id}.{purpose}@invoiceflow>`` (activities/delivery.py)."""
    return message_id.strip("<>").split(".", 1)[0]


async def count_effects(stack: Stack, invoice_ids: list[str]) -> Effects:
    async def records(kind: str) -> list[dict[str, Any]]:
        response = await stack.sandbox.get(f"/_sandbox/records/{kind}")
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found

    per_invoice = {i: Counter[str]() for i in invoice_ids}

    def tally(kind: str, references: list[str]) -> None:
        for ref in references:
            if ref in per_invoice:
                per_invoice[ref][kind] += 1

    tally("payment_links", [r["reference"] for r in await records("payment_link")])
    tally("charges", [r["reference"] for r in await records("payment")])
    tally("sms", [r["reference"] for r in await records("sms_message")])
    tally("accounting_invoices", [r["reference"] for r in await records("accounting_invoice")])
    payments = await records("accounting_payment")
    tally("accounting_payments", [r["invoice_reference"] for r in payments])

    response = await stack.sandbox.get("/_sandbox/smtp/receptions")
    response.raise_for_status()
    copies: dict[str, list[Copy]] = {}
    for r in response.json():
        if r["outcome"] not in ("accepted", "duplicate", "lost") or not r["message_id"]:
            continue  # refused: nothing was kept
        invoice_id = invoice_of(r["message_id"])
        if invoice_id not in per_invoice:
            continue
        copy = Copy(r["message_id"], invoice_id, r["outcome"], datetime.fromisoformat(r["at"]))
        copies.setdefault(r["message_id"], []).append(copy)
    for kept in copies.values():
        per_invoice[kept[0].invoice_id]["emails"] += 1  # distinct: what the mailbox keeps
    return Effects(per_invoice, copies)


def expected(channel: str) -> Counter[str]:
    """One invoice's effects, each once: the invoice e-mail and the receipt (or, for a
    mailbox that refuses, the invoice by text and no receipt), one payment link, one
    charge, the invoice and its payment posted once each."""
    sent = {"emails": 2} if channel == "email" else {"sms": 1}
    return Counter(
        {
            **sent,
            "payment_links": 1,
            "charges": 1,
            "accounting_invoices": 1,
            "accounting_payments": 1,
        }
    )


Explainer = Callable[[list[Copy]], str | None]


def check_effects(
    run: Run,
    effects: Effects,
    figures: Figures,
    explain: Explainer,
    workflows: Counter[str],
) -> None:
    """Report the figures, then assert: every workflow COMPLETED, exactly the expected
    effects per invoice, every extra SMTP copy explained by `explain` (None: unexplained)."""
    wrong = {
        i: dict(effects.per_invoice[i])
        for i, channel in run.channel.items()
        if effects.per_invoice[i] != expected(channel)
    }
    figures.effects = effects.totals()
    figures.smtp_raw = effects.raw_smtp()
    unexplained = []
    for copies in effects.duplicated():
        why = explain(copies)
        line = f"{copies[0].message_id} x{len(copies)}: {why or 'UNEXPLAINED'}"
        figures.duplicates.append(line)
        if why is None:
            unexplained.append(line)
    if workflows != Counter({"COMPLETED": len(run.channel)}):
        figures.notes.append(f"workflows {dict(workflows)}: {run.failures}")
    if wrong:
        figures.notes.append(f"{len(wrong)} invoices with wrong effects")
    report(figures)
    assert workflows == Counter({"COMPLETED": len(run.channel)}), (workflows, run.failures)
    assert not wrong, f"{len(wrong)} invoices with wrong effects, e.g. {list(wrong.items())[:3]}"
    assert not unexplained, unexplained
