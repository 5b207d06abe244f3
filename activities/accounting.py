"""Post the issued invoice and each payment to accounting, once each, and say when an
outage has held a post too long.

A retried step checks the posting row (``invoice:{id}`` / ``payment:{id}``) first, so it
does not even call out when an earlier attempt got as far as storing the answer; then it
looks the document up at the provider by its natural key (invoice or credit-note number,
else our reference) and creates it only when the ledger has none. A first attempt does
neither: it has no earlier attempt to find, and the one other writer of the same document
(a re-sync running meanwhile) sends the same Idempotency-Key, which the provider dedupes
while it still remembers it (minutes apart at most), so the happy path pays no extra
read or call. The look-up covers what the key cannot: a provider that has forgotten the
key (a retry hours into an outage, a re-sync days later) and a crash between its answer
and our insert.

A post still failing ``alert_after`` (`Settings.accounting_alert_after_h`) after it was
first scheduled ends its activity with the non-retryable ``AccountingSyncFailing``: the
workflow tells operations, then resumes the same post (``accounting.resume_post``), which
looks up first on every attempt and retries without limit.

Each outcome is kept as an `AccountingDocumentRow` with the request as sent, for re-syncs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.heartbeat import heartbeats
from integrations.accounting import TRACE as POST_TRACE
from integrations.accounting import (
    AccountingClient,
    AccountingCustomer,
    AccountingInvoice,
    AccountingInvoiceLine,
    AccountingPayment,
    AccountingRef,
    PostTrace,
)
from integrations.errors import ProviderError
from schemas.invoice import InvoiceSnapshot, PostingResult, PostInvoiceInput, PostPaymentInput
from schemas.tables import AccountingPosting
from store import accounting_sync, audit
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()


def invoice_payload(invoice: InvoiceSnapshot) -> AccountingInvoice:
    return AccountingInvoice(
        reference=invoice.invoice_id,
        number=invoice.number,
        customer=AccountingCustomer(id=invoice.customer_id, name=invoice.customer_name),
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        lines=[
            AccountingInvoiceLine(
                description=line.description,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                net_minor=line.net_minor,
                tax_category=line.tax_category.value,
            )
            for line in invoice.lines
        ],
        tax_lines=[tax.model_dump(mode="json") for tax in invoice.tax_lines],
    )


# How a post runs: "first" (the activity's own attempts), "resume" (after the alert: the
# posting row, then a look-up, on every attempt), "verify" (a re-sync: always asks the
# ledger, even when our posting row says it was posted).
Mode = Literal["first", "resume", "verify"]


@dataclass
class PostRun:
    mode: Mode = "first"
    found: bool | None = None  # after the post: whether the ledger had it already
    key: str | None = None  # the posting key, once the post has started


RUN: ContextVar[PostRun | None] = ContextVar("accounting_post_run", default=None)

ALERT_AFTER = timedelta(hours=1)
# The worker's setting, once per process (`configure`); a post reads it when it fails.
_alert_after = [ALERT_AFTER]


def configure(alert_after: timedelta) -> None:
    _alert_after[0] = alert_after


def failing_for() -> timedelta:
    """How long this post has been trying: from its first scheduling to this attempt's,
    both the server's times (so the time-skipping test server's clock counts)."""
    info = activity.info()
    return info.current_attempt_scheduled_time - info.scheduled_time


async def post_once(
    sessions: SessionFactory,
    *,
    key: str,
    invoice_id: str,
    kind: str,
    call: Callable[[], Awaitable[AccountingRef]],
) -> PostingResult:
    """Post to accounting once under `key` (its AccountingPosting row, audited).

    A retryable provider error is raised for Temporal to retry (or, past the alert delay,
    as ``AccountingSyncFailing``); a refusal becomes the non-retryable
    ``AccountingRejected``. The remedy activities post through this too.
    """
    run = RUN.get() or PostRun()
    mode = run.mode
    run.key = key
    retried = activity.info().attempt > 1 or mode != "first"
    if retried and mode != "verify":
        async with transaction(sessions, writes=False) as session:
            done = await session.get(AccountingPosting, key)
            if done is not None:
                return PostingResult(key=key, external_id=done.external_id)
    trace = PostTrace(look_up_first=retried)
    token = POST_TRACE.set(trace)
    try:
        ref = await call()
    except ProviderError as err:
        if err.retryable:
            metrics.count(metrics.ACCOUNTING_POSTS, kind=kind, outcome="retry")
            log.warning("accounting.retry", key=key, status=err.status, detail=err.detail)
            if mode == "first" and failing_for() >= _alert_after[0]:
                raise ApplicationError(
                    f"accounting has not taken {key} for {failing_for()}: {err.detail}",
                    type="AccountingSyncFailing",
                    non_retryable=True,
                ) from err
            raise
        metrics.count(metrics.ACCOUNTING_POSTS, kind=kind, outcome="refused")
        await _keep(sessions, key, invoice_id, kind, trace, "refused", detail=err.detail)
        raise ApplicationError(
            f"accounting refused {key}: {err.detail}",
            type="AccountingRejected",
            non_retryable=True,
        ) from err
    finally:
        POST_TRACE.reset(token)
    async with transaction(sessions) as session:
        await insert_if_absent(
            session,
            AccountingPosting,
            key=key,
            invoice_id=invoice_id,
            kind=kind,
            external_id=ref.id,
            posted_at=datetime.now(UTC),
        )
        await audit.record(
            session,
            step_key=f"{invoice_id}:accounting:{key}",
            invoice_id=invoice_id,
            entity="accounting",
            action=f"accounting.{kind}_posted",
            actor="workflow",
            data={"external_id": ref.id, "found": ref.found},
        )
        await _keep_in(session, key, invoice_id, kind, trace, "posted", external_id=ref.id)
    run.found = ref.found
    metrics.count(metrics.ACCOUNTING_POSTS, kind=kind, outcome="posted")
    log.info("accounting.posted", key=key, external_id=ref.id, found=ref.found)
    return PostingResult(key=key, external_id=ref.id)


async def wait_for_posting(sessions: SessionFactory, key: str) -> None:
    """Go on only once the document `key` names is in the ledger (a credit drawn on an
    overpaid payment needs that payment there, and its post may still be landing after an
    outage): a retryable error until then, `AccountingSyncFailing` past the alert delay
    as for any post. A re-sync does not wait: the ledger's own refusal answers it."""
    run = RUN.get() or PostRun()
    if run.mode == "verify":
        return
    async with transaction(sessions, writes=False) as session:
        if await session.get(AccountingPosting, key) is not None:
            return
    if run.mode == "first" and failing_for() >= _alert_after[0]:
        raise ApplicationError(
            f"accounting has not taken {key} for {failing_for()}",
            type="AccountingSyncFailing",
            non_retryable=True,
        )
    raise ApplicationError(f"{key} is not in the ledger yet", type="PostingNotYet")


async def _keep(
    sessions: SessionFactory,
    key: str,
    invoice_id: str,
    kind: str,
    trace: PostTrace,
    status: str,
    *,
    detail: str | None = None,
) -> None:
    async with transaction(sessions) as session:
        await _keep_in(session, key, invoice_id, kind, trace, status, detail=detail)


async def _keep_in(
    session: AsyncSession,
    key: str,
    invoice_id: str,
    kind: str,
    trace: PostTrace,
    status: str,
    *,
    external_id: str | None = None,
    detail: str | None = None,
) -> None:
    """The document as it went out, for a re-sync (nothing when no request was made)."""
    if trace.path is None or trace.idempotency_key is None or trace.body is None:
        return
    await accounting_sync.record_document(
        session,
        key=key,
        invoice_id=invoice_id,
        kind=kind,
        path=trace.path,
        idempotency_key=trace.idempotency_key,
        body=trace.body,
        status=status,
        external_id=external_id,
        detail=detail,
    )


class AccountingActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        client: AccountingClient,
        *,
        alert_after: timedelta | None = None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        if alert_after is not None:
            configure(alert_after)

    @activity.defn(name="accounting.post_invoice")
    @heartbeats
    async def post_invoice(self, data: PostInvoiceInput) -> PostingResult:
        invoice = data.invoice
        return await post_once(
            self._sessions,
            key=f"invoice:{invoice.invoice_id}",
            invoice_id=invoice.invoice_id,
            kind="invoice",
            call=lambda: self._client.post_invoice(
                idempotency_key=f"{invoice.invoice_id}:accounting-invoice",
                payload=invoice_payload(invoice),
            ),
        )

    @activity.defn(name="accounting.post_payment")
    @heartbeats
    async def post_payment(self, data: PostPaymentInput) -> PostingResult:
        return await post_once(
            self._sessions,
            key=f"payment:{data.payment_id}",
            invoice_id=data.invoice.invoice_id,
            kind="payment",
            call=lambda: self._client.post_payment(
                idempotency_key=f"{data.payment_id}:accounting-payment",
                payload=AccountingPayment(
                    reference=data.payment_id,
                    invoice_reference=data.invoice.invoice_id,
                    amount_minor=data.amount_minor,
                    currency=data.invoice.currency,
                    paid_at=data.paid_at,
                ),
            ),
        )
