"""Accounting sync beyond one post: the post resumed after operations were told, the
e-mail that tells them, and a re-sync of everything an invoice should have in the ledger.

Every post goes through `activities.accounting.post_once`; these activities only run the
same post functions in another mode (`PostRun`): ``resume`` looks the document up before
each attempt (the first activity may have created it in its last moments), ``verify``
asks the ledger even when our posting row says it was posted (that is what a re-sync is
for: the ledger lost it, or refused it before its set-up was mended). A re-sync goes over
the posts a running process names (some not tried yet) and the documents kept in
`accounting_documents` (all that an ended process posted or had refused), each once by
its posting key, and creates only what the ledger lacks, under the document's first
Idempotency-Key and body.

They also keep the invoice's sync status where the API reads it (`store.sync_status`):
a resumed post records each failed attempt and clears its row when it lands, the alert
records when the episode began, a re-sync clears what it landed. These activities run
only off the happy path, so the status costs that path no write and no history event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.accounting import RUN, AccountingActivities, PostRun, post_once
from activities.heartbeat import heartbeats
from activities.remedies import RemedyActivities
from integrations.accounting import AccountingClient, AccountingRef
from integrations.email import EmailSender
from integrations.errors import ProviderError
from schemas.accounting_sync import (
    PendingPost,
    ResumePostInput,
    ResyncActivityInput,
    ResyncedDocument,
    ResyncResult,
    SyncAlertInput,
    SyncStatus,
)
from schemas.customer_credit import PostCreditAllocationInput
from schemas.invoice import PostingResult, PostInvoiceInput, PostPaymentInput
from schemas.remedies import PostCreditNoteInput, PostVoidInput, PostWriteOffInput
from schemas.sync_tables import AccountingDocumentRow
from store import accounting_sync, sync_status
from store.db import SessionFactory, transaction

log = structlog.get_logger()

Poster = Callable[[Any], Awaitable[PostingResult]]


def alert_message_id(invoice_id: str, episode: int) -> str:
    return f"<{invoice_id}.accounting-failing-{episode}@invoiceflow>"


class AccountingSyncActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        client: AccountingClient,
        accounting: AccountingActivities,
        remedies: RemedyActivities,
        email: EmailSender,
        *,
        mail_from: str,
        ops_email: str | None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._email = email
        self._mail_from = mail_from
        self._ops_email = ops_email
        # every post the workflows start, by activity name: its function and input model
        self._posters: dict[str, tuple[Poster, type[BaseModel]]] = {
            "accounting.post_invoice": (accounting.post_invoice, PostInvoiceInput),
            "accounting.post_payment": (accounting.post_payment, PostPaymentInput),
            "accounting.post_credit_note": (remedies.post_credit_note, PostCreditNoteInput),
            "accounting.post_write_off": (remedies.post_write_off, PostWriteOffInput),
            "accounting.post_void": (remedies.post_void, PostVoidInput),
            "accounting.post_credit_allocation": (
                remedies.post_credit_allocation,
                PostCreditAllocationInput,
            ),
        }

    async def _run(self, post: PendingPost, run: PostRun) -> PostingResult:
        entry = self._posters.get(post.activity)
        if entry is None:
            raise ApplicationError(f"no such post: {post.activity}", non_retryable=True)
        poster, model = entry
        token = RUN.set(run)
        try:
            return await poster(model.model_validate(post.arg))
        finally:
            RUN.reset(token)

    @activity.defn(name="accounting.resume_post")
    @heartbeats
    async def resume_post(self, data: ResumePostInput) -> PostingResult:
        """The post after the alert: retried without limit, looked up before each try.
        Each failed attempt keeps the post `failing` (with its error) for the exception
        list; landing or a refusal takes it off."""
        run = PostRun(mode="resume")
        info = activity.info()
        kind = data.post.activity.removeprefix("accounting.post_")
        # before the post has named its key (it failed waiting on another document)
        fallback = f"{kind}:{info.workflow_id}:{info.activity_id}"
        invoice_id = _invoice_of(data.post)
        try:
            result = await self._run(data.post, run)
        except Exception as err:
            refused = isinstance(err, ApplicationError) and err.type == "AccountingRejected"
            if invoice_id is not None and (refused or _retried(err)):
                await self._failed_attempt(
                    invoice_id, run.key or fallback, fallback, kind, err, refused=refused
                )
            raise
        if invoice_id is not None:
            async with transaction(self._sessions) as session:
                await sync_status.posts_settled(session, invoice_id, {result.key, fallback})
        return result

    async def _failed_attempt(
        self,
        invoice_id: str,
        key: str,
        fallback: str,
        kind: str,
        err: Exception,
        *,
        refused: bool,
    ) -> None:
        """Best effort: the post's own retry matters more than its status row."""
        try:
            async with transaction(self._sessions) as session:
                if refused:  # the refused document row shows it now
                    await sync_status.posts_settled(session, invoice_id, {key, fallback})
                    return
                await sync_status.post_failed(
                    session,
                    key=key,
                    invoice_id=invoice_id,
                    kind=kind,
                    gave_up_at=activity.info().scheduled_time,
                    error=str(err) or type(err).__name__,
                    now=datetime.now(UTC),
                )
                if key != fallback:  # its row before the post named its key
                    await sync_status.posts_settled(session, invoice_id, {fallback})
        except Exception:
            log.exception("accounting.sync_status_not_written", invoice_id=invoice_id, key=key)

    @activity.defn(name="accounting.resync")
    @heartbeats
    async def resync(self, data: ResyncActivityInput) -> ResyncResult:
        documents: list[ResyncedDocument] = []
        for position, post in enumerate(data.posts):
            run = PostRun(mode="verify")
            try:
                result = await self._run(post, run)
            except ApplicationError as err:
                if err.type != "AccountingRejected":
                    raise
                kind = post.activity.removeprefix("accounting.post_")
                documents.append(
                    ResyncedDocument(
                        key=run.key or kind, kind=kind, outcome="refused", detail=err.message
                    )
                )
                continue
            outcome: Literal["found", "created"] = "found" if run.found else "created"
            kind = post.activity.removeprefix("accounting.post_")
            documents.append(
                ResyncedDocument(
                    key=result.key,
                    position=position,
                    kind=kind,
                    outcome=outcome,
                    external_id=result.external_id,
                )
            )
        async with transaction(self._sessions, writes=False) as session:
            rows = await accounting_sync.documents_of(session, data.invoice_id)
        seen = {document.key for document in documents}
        for row in rows:
            if row.key not in seen:
                documents.append(await self._verify_row(row))
        async with transaction(self._sessions) as session:
            # landed or refused now: none of these is failing any more
            await sync_status.posts_settled(session, data.invoice_id, {d.key for d in documents})
        refused = any(d.outcome == "refused" for d in documents)
        log.info(
            "accounting.resynced",
            invoice_id=data.invoice_id,
            requested_by=data.requested_by,
            created=sum(d.outcome == "created" for d in documents),
            found=sum(d.outcome == "found" for d in documents),
            refused=sum(d.outcome == "refused" for d in documents),
        )
        return ResyncResult(
            invoice_id=data.invoice_id,
            status=SyncStatus.REFUSED if refused else SyncStatus.SYNCED,
            documents=documents,
        )

    async def _verify_row(self, row: AccountingDocumentRow) -> ResyncedDocument:
        """A kept document: asked for at the ledger, created from its first request if
        missing (through `post_once`, so the posting row and audit are written once)."""
        run = PostRun(mode="verify")
        token = RUN.set(run)

        async def call() -> AccountingRef:
            return await self._client.create(row.path, row.idempotency_key, row.body)

        try:
            result = await post_once(
                self._sessions, key=row.key, invoice_id=row.invoice_id, kind=row.kind, call=call
            )
        except ApplicationError as err:
            if err.type != "AccountingRejected":
                raise
            return ResyncedDocument(
                key=row.key, kind=row.kind, outcome="refused", detail=err.message
            )
        finally:
            RUN.reset(token)
        return ResyncedDocument(
            key=row.key,
            kind=row.kind,
            outcome="found" if run.found else "created",
            external_id=result.external_id,
        )

    @activity.defn(name="accounting.alert_ops")
    @heartbeats
    async def alert_ops(self, data: SyncAlertInput) -> None:
        """Tell operations a post has been failing past the alert delay: one e-mail per
        episode, its Message-ID from (invoice, episode), so a retry is a duplicate the
        receiving side drops. First it records when the episode began, for the exception
        list (also with no ops address)."""
        async with transaction(self._sessions) as session:
            await sync_status.episode_alerted(
                session,
                invoice_id=data.invoice_id,
                episode=data.episode,
                failing_since=data.failing_since,
                detail=data.detail,
                now=datetime.now(UTC),
            )
        if not self._ops_email:
            log.warning("accounting.alert_no_ops_email", invoice_id=data.invoice_id)
            return
        name = data.invoice_number or data.invoice_id
        since = f"{data.failing_since:%Y-%m-%d %H:%M} UTC"
        text = (
            f"Accounting has not taken the posts of invoice {name}"
            f" ({data.customer_name or 'customer'}) since {since}.\n\n"
            f"Last error: {data.detail}\n\n"
            "InvoiceFlow keeps retrying and posts everything once accounting is back. In the"
            f' Temporal UI: workflow invoice-{data.invoice_id}, SyncStatus = "failing".'
            f" To post again now: POST /invoices/{data.invoice_id}/resync.\n"
        )
        try:
            await self._email.send(
                message_id=alert_message_id(data.invoice_id, data.episode),
                sender=self._mail_from,
                to=[self._ops_email],
                subject=f"Accounting sync failing: invoice {name} since {since}",
                html=f"<pre>{_escape(text)}</pre>",
                text=text,
            )
        except ProviderError as err:
            if err.retryable:
                raise
            raise ApplicationError(
                f"the ops mailbox refused the alert: {err.detail}",
                type="AlertRefused",
                non_retryable=True,
            ) from err
        log.warning("accounting.sync_failing_alert", invoice_id=data.invoice_id)


def _invoice_of(post: PendingPost) -> str | None:
    """The invoice a post belongs to, from its input: ``invoice.invoice_id`` (the invoice,
    payments) or ``invoice_id`` (remedies, credit allocations)."""
    invoice = post.arg.get("invoice")
    if isinstance(invoice, dict) and isinstance(invoice.get("invoice_id"), str):
        return str(invoice["invoice_id"])
    invoice_id = post.arg.get("invoice_id")
    return invoice_id if isinstance(invoice_id, str) else None


def _retried(err: Exception) -> bool:
    """An attempt Temporal will try again (an outage), not a bug failing the post."""
    if isinstance(err, ApplicationError):
        return not err.non_retryable
    return isinstance(err, ProviderError) and err.retryable


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
