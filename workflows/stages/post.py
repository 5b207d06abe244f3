"""Accounting posts, alongside collection: the invoice once, then each payment and remedy
once the invoice's own post has landed (accounting needs the invoice to attach them to).

Outages are retried without limit; a refusal (bad data) flags the invoice for a person
instead of failing the process. `SyncStatus` shows where the posts stand:

- ``pending`` from the invoice's own post until it lands; ``synced`` once every post has
  landed. A later post (a payment, a remedy) does not flip it back to pending: on the
  happy path it lands in milliseconds, and two search-attribute events per payment would
  be the price. So the happy path pays two events in all (pending, synced).
- ``failing`` (with `SyncFailingSince`, when the failing post was first tried) once a post
  has failed for the alert delay: its activity gives up with ``AccountingSyncFailing``
  (the delay is the worker's setting; no timer runs on the happy path), the invoice is
  flagged ``ExceptionReason = accounting_sync_failing`` unless another reason already
  needs a person, operations get one e-mail, and the same post resumes, retried without
  limit. When everything has landed: ``synced``, and the flag is cleared if it is ours.
- ``refused``: accounting refused a document (``ExceptionReason = accounting_refused``);
  a re-sync that gets it accepted makes it ``synced`` again.

The `resync` update re-posts everything the process has posted or will post, looked up
first (`activities.accounting_sync`); a post it landed is not started again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity as activity_api
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.accounting import AccountingActivities
    from activities.accounting_sync import AccountingSyncActivities
    from schemas import search_attributes as sa
    from schemas.accounting_sync import (
        PendingPost,
        ResumePostInput,
        ResyncActivityInput,
        ResyncRequest,
        ResyncResult,
        SyncAlertInput,
        SyncStatus,
    )
    from schemas.invoice import (
        InvoiceSnapshot,
        PaymentReceived,
        PaymentView,
        PostingResult,
        PostInvoiceInput,
        PostPaymentInput,
    )
    from workflows import options
    from workflows.process import InvoiceProcess

FAILING_FLAG = "accounting_sync_failing"
REFUSED_FLAG = "accounting_refused"

# a re-sync asked for by a person, who waits for the answer
RESYNC_TIMEOUT = timedelta(minutes=2)
RESYNC_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5), maximum_attempts=3
)
# the ops e-mail: retried through an SMTP outage for about a day, then given up (logged)
ALERT_TIMEOUT = timedelta(seconds=60)
ALERT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=150,
    non_retryable_error_types=["AlertRefused"],
)


@dataclass
class _Post:
    activity: str
    arg: BaseModel
    started: datetime | None = None
    result: PostingResult | None = None
    refused: bool = False
    view: PaymentView | None = None


def _name(activity: Any) -> str:
    name = activity_api._Definition.must_from_callable(activity).name
    assert name is not None
    return name


def _cause_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


class AccountingStage:
    def __init__(self, process: InvoiceProcess) -> None:
        self._p = process
        self.invoice_ref: str | None = None
        self._posts: list[asyncio.Future[Any]] = []  # [0] is the invoice's own post
        self._records: list[_Post] = []  # each post, in the order started
        self._alerts: list[asyncio.Future[Any]] = []
        self.sync_status: SyncStatus | None = None
        self._failing_since: datetime | None = None
        self._episodes = 0

    def start(self, invoice: InvoiceSnapshot) -> None:
        post = self._register(AccountingActivities.post_invoice, PostInvoiceInput(invoice=invoice))
        if self.sync_status is None:
            self._show(SyncStatus.PENDING)
        self._posts.append(asyncio.ensure_future(self._post_invoice(post)))

    def pending(self) -> list[SearchAttributeUpdate[Any]]:
        """`SyncStatus` pending from the moment the invoice is issued, carried by the
        ISSUED upsert: the happy path pays one upsert for SyncStatus (synced), not two."""
        self.sync_status = SyncStatus.PENDING
        return [sa.SYNC_STATUS.value_set(SyncStatus.PENDING.value)]

    def post_payment(
        self, invoice: InvoiceSnapshot, payment: PaymentReceived, view: PaymentView
    ) -> None:
        post = self._payment(invoice, payment, view)
        self._posts.append(asyncio.ensure_future(self._post_after_invoice(post)))

    def post_remedy(self, activity: Any, arg: Any) -> None:
        """A dispute's credit note or write-off, after the invoice's own post."""
        post = self._register(activity, arg)
        self._posts.append(asyncio.ensure_future(self._post_after_invoice(post)))

    async def settled(self) -> None:
        """Every post started so far has landed (or was refused and flagged)."""
        while True:
            posts = list(self._posts)
            await asyncio.gather(*posts)
            if len(posts) == len(self._posts):  # none started meanwhile
                await asyncio.gather(*self._alerts)
                return

    async def post_payment_now(
        self, invoice: InvoiceSnapshot, payment: PaymentReceived, view: PaymentView
    ) -> None:
        await self._post_after_invoice(self._payment(invoice, payment, view))

    # --- the posts -----------------------------------------------------------------------

    def _register(self, activity: Any, arg: BaseModel) -> _Post:
        post = _Post(activity=_name(activity), arg=arg)
        self._records.append(post)
        return post

    def _payment(
        self, invoice: InvoiceSnapshot, payment: PaymentReceived, view: PaymentView
    ) -> _Post:
        arg = PostPaymentInput(
            invoice=invoice,
            payment_id=payment.payment_id,
            amount_minor=payment.amount_minor,
            paid_at=payment.paid_at,
        )
        post = self._register(AccountingActivities.post_payment, arg)
        post.view = view
        return post

    async def _post_invoice(self, post: _Post) -> PostingResult | None:
        result = await self._post(post)
        if result is not None:
            self.invoice_ref = result.external_id
        return result

    async def _post_after_invoice(self, post: _Post) -> PostingResult | None:
        if await self._posts[0] is None:  # accounting has no invoice to attach it to
            return None
        return await self._post(post)

    async def _post(self, post: _Post) -> PostingResult | None:
        """One post under the accounting options; a refusal is flagged and is None."""
        if post.result is None:  # else a re-sync landed it before it started
            post.started = workflow.now()
            try:
                result = await self._execute(post.activity, post.arg)
            except ActivityError as err:
                if _cause_type(err) != "AccountingSyncFailing":
                    self._refused(post, err)
                    return None
                self._alert(post, str(err.cause))
                try:
                    result = await self._execute(
                        _name(AccountingSyncActivities.resume_post),
                        ResumePostInput(post=self._pending(post)),
                    )
                except ActivityError as resumed_err:
                    self._refused(post, resumed_err)
                    return None
            self._landed(post, result)
        self._refresh()
        return post.result

    async def _execute(self, activity: str, arg: BaseModel) -> PostingResult:
        result: PostingResult = await workflow.execute_activity(
            activity,
            arg,
            result_type=PostingResult,
            start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
            heartbeat_timeout=options.PROVIDER_HEARTBEAT,
            retry_policy=options.ACCOUNTING_RETRY,
        )
        return result

    def _landed(self, post: _Post, result: PostingResult) -> None:
        if post.result is None:
            post.result = result
        post.refused = False
        if post.view is not None:
            post.view.accounting_ref = result.external_id
        if post is self._records[0]:
            self.invoice_ref = result.external_id

    @staticmethod
    def _pending(post: _Post) -> PendingPost:
        return PendingPost(activity=post.activity, arg=post.arg.model_dump(mode="json"))

    # --- SyncStatus, the flag and the alert ----------------------------------------------

    def _show(self, status: SyncStatus, *also: SearchAttributeUpdate[Any]) -> None:
        self.sync_status = status
        workflow.upsert_search_attributes([sa.SYNC_STATUS.value_set(status.value), *also])

    def _flag_updates(self, reason: str | None, *, unless_other: bool = False) -> list[Any]:
        """Set our `ExceptionReason` (None: clear it, only when it is one of ours)."""
        current = workflow.info().typed_search_attributes.get(sa.EXCEPTION_REASON)
        if reason is None:
            ours = current in (FAILING_FLAG, REFUSED_FLAG)
            return [sa.EXCEPTION_REASON.value_unset()] if ours else []
        if unless_other and current not in (None, FAILING_FLAG, reason):
            return []  # another reason needs a person too; SyncStatus shows ours
        return [sa.EXCEPTION_REASON.value_set(reason)]

    def _refused(self, post: _Post, err: ActivityError) -> None:
        workflow.logger.error("accounting.refused", extra={"error": str(err.cause)})
        post.refused = True
        self._show(SyncStatus.REFUSED, *self._flag_updates(REFUSED_FLAG))

    def _alert(self, post: _Post, detail: str) -> None:
        """A post has failed past the alert delay: failing, flagged, ops told (once per
        episode: until everything has landed again)."""
        if self._failing_since is not None:
            return
        since = post.started or workflow.now()
        self._failing_since = since
        self._episodes += 1
        if self.sync_status != SyncStatus.REFUSED:
            self._show(
                SyncStatus.FAILING,
                sa.SYNC_FAILING_SINCE.value_set(since),
                *self._flag_updates(FAILING_FLAG, unless_other=True),
            )
        invoice = self._p.invoice
        self._alerts.append(
            asyncio.ensure_future(
                self._send_alert(
                    SyncAlertInput(
                        invoice_id=self._p.request.invoice_id,
                        invoice_number=invoice.number if invoice else None,
                        customer_name=invoice.customer_name if invoice else None,
                        episode=self._episodes,
                        failing_since=since,
                        detail=detail[:500],
                    )
                )
            )
        )

    async def _send_alert(self, data: SyncAlertInput) -> None:
        try:
            await workflow.execute_activity_method(
                AccountingSyncActivities.alert_ops,
                data,
                start_to_close_timeout=ALERT_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=ALERT_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("accounting.alert_failed", extra={"error": str(err.cause)})

    def _refresh(self) -> None:
        """`synced` once every post has landed (one upsert, only on a change)."""
        if any(post.result is None for post in self._records):
            return
        if self.sync_status == SyncStatus.SYNCED:
            return
        also: list[Any] = self._flag_updates(None)
        if self._failing_since is not None:
            also.append(sa.SYNC_FAILING_SINCE.value_unset())
            self._failing_since = None
        self._show(SyncStatus.SYNCED, *also)

    # --- the resync update ---------------------------------------------------------------

    def validate_resync(self, data: ResyncRequest) -> None:
        if not self._records:
            raise ApplicationError(
                "the invoice is not issued yet: accounting has nothing of it", type="not_issued"
            )

    async def resync(self, data: ResyncRequest) -> ResyncResult:
        """Post again what accounting lacks of this invoice, now (a person asked)."""
        result: ResyncResult = await workflow.execute_activity_method(
            AccountingSyncActivities.resync,
            ResyncActivityInput(
                invoice_id=self._p.request.invoice_id,
                requested_by=data.requested_by,
                posts=[self._pending(post) for post in self._records],
            ),
            start_to_close_timeout=RESYNC_TIMEOUT,
            heartbeat_timeout=options.PROVIDER_HEARTBEAT,
            retry_policy=RESYNC_RETRY,
        )
        for document in result.documents:
            if document.position is None or document.external_id is None:
                continue
            post = self._records[document.position]
            self._landed(post, PostingResult(key=document.key, external_id=document.external_id))
        self._refresh()
        return result
