"""The accounting sync status the API reads, on SQLite and PostgreSQL (migration 0016): an
invoice is failing while any post that gave up has not landed, since its episode's alert,
with the last error; refused while accounting refuses a document; synced once its own post
landed and nothing is failing or refused; and the exception list pages it by keyset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas.accounting_sync import SyncStatus
from schemas.tables import AccountingPosting
from store import accounting_sync, queries, sync_status
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.disputes import SeededInvoice, seed_invoice

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def _failed(
    sessions: SessionFactory,
    invoice_id: str,
    key: str,
    at: datetime,
    error: str,
    now: datetime | None = None,
) -> None:
    async with transaction(sessions) as session:
        await sync_status.post_failed(
            session,
            key=key,
            invoice_id=invoice_id,
            kind=key.split(":")[0],
            gave_up_at=at,
            error=error,
            now=now or at,
        )


async def _settled(sessions: SessionFactory, invoice_id: str, *keys: str) -> None:
    async with transaction(sessions) as session:
        await sync_status.posts_settled(session, invoice_id, keys)


async def _with_status(sessions: SessionFactory, status: SyncStatus, customer_id: str) -> list[str]:
    async with transaction(sessions, writes=False) as session:
        rows, total = await queries.list_invoices(
            session,
            today=T0.date(),
            status=None,
            customer_id=customer_id,
            overdue=None,
            limit=50,
            offset=0,
            sync_status=status,
        )
    assert total == len(rows)
    return [row.id for row in rows]


async def _issues(sessions: SessionFactory, **filters: object) -> list[sync_status.SyncIssue]:
    async with transaction(sessions, writes=False) as session:
        return await sync_status.sync_issues(session, **filters)  # type: ignore[arg-type]


async def _posted(sessions: SessionFactory, invoice: SeededInvoice) -> None:
    async with transaction(sessions) as session:
        session.add(
            AccountingPosting(
                key=f"invoice:{invoice.invoice_id}",
                invoice_id=invoice.invoice_id,
                kind="invoice",
                external_id="acc_1",
                posted_at=T0,
            )
        )


async def test_failing_until_the_last_failing_post_lands_then_synced(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    assert await _with_status(sessions, SyncStatus.PENDING, invoice.customer_id) == [
        invoice.invoice_id
    ]
    await _posted(sessions, invoice)
    pay_a, pay_b = "payment:pay_a", "payment:pay_b"
    await _failed(sessions, invoice.invoice_id, pay_a, T0 + timedelta(hours=1), "503 first")
    async with transaction(sessions) as session:
        await sync_status.episode_alerted(
            session,
            invoice_id=invoice.invoice_id,
            episode=1,
            failing_since=T0,
            detail="503 at the alert",
            now=T0 + timedelta(hours=1),
        )
    await _failed(sessions, invoice.invoice_id, pay_b, T0 + timedelta(hours=2), "503 b")
    await _failed(
        sessions,
        invoice.invoice_id,
        pay_a,
        T0 + timedelta(hours=1),
        "504 latest",
        T0 + timedelta(hours=3),
    )

    [issue] = await _issues(sessions, customer_id=invoice.customer_id)
    assert issue.status == SyncStatus.FAILING
    assert issue.since == T0  # the episode's first try, not when the posts gave up
    assert issue.last_error == "504 latest"
    assert (issue.invoice_number, issue.customer_name) == (invoice.number, invoice.customer_name)
    assert [(d.key, d.attempts) for d in issue.documents] == [(pay_a, 2), (pay_b, 1)]
    assert await _with_status(sessions, SyncStatus.FAILING, invoice.customer_id) == [
        invoice.invoice_id
    ]
    assert await _with_status(sessions, SyncStatus.SYNCED, invoice.customer_id) == []

    await _settled(sessions, invoice.invoice_id, pay_a)
    [still] = await _issues(sessions, customer_id=invoice.customer_id)
    assert [d.key for d in still.documents] == [pay_b]
    assert still.since == T0  # the same episode

    await _settled(sessions, invoice.invoice_id, pay_b)
    assert await _issues(sessions, customer_id=invoice.customer_id) == []
    assert await _with_status(sessions, SyncStatus.FAILING, invoice.customer_id) == []
    assert await _with_status(sessions, SyncStatus.SYNCED, invoice.customer_id) == [
        invoice.invoice_id
    ]

    # a later episode starts afresh: the first one's alert went with its last post
    await _failed(sessions, invoice.invoice_id, "payment:pay_c", T0 + timedelta(days=1), "x")
    [later] = await _issues(sessions, customer_id=invoice.customer_id)
    assert later.since == T0 + timedelta(days=1)


async def test_a_refused_document_lists_as_refused_until_a_resync_posts_it(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    await _failed(sessions, invoice.invoice_id, f"invoice:{invoice.invoice_id}", T0, "503")

    async def keep(status: str, detail: str | None) -> None:
        async with transaction(sessions) as session:
            await accounting_sync.record_document(
                session,
                key=f"invoice:{invoice.invoice_id}",
                invoice_id=invoice.invoice_id,
                kind="invoice",
                path="/accounting/v1/invoices",
                idempotency_key="k",
                body={"reference": invoice.invoice_id},
                status=status,
                detail=detail,
            )

    await keep("refused", "unknown tax code")
    await _settled(sessions, invoice.invoice_id, f"invoice:{invoice.invoice_id}")
    [issue] = await _issues(sessions, customer_id=invoice.customer_id)
    assert (issue.status, issue.last_error) == (SyncStatus.REFUSED, "unknown tax code")
    assert [d.status for d in issue.documents] == ["refused"]
    assert await _with_status(sessions, SyncStatus.REFUSED, invoice.customer_id) == [
        invoice.invoice_id
    ]
    assert await _with_status(sessions, SyncStatus.PENDING, invoice.customer_id) == []

    await keep("posted", None)
    await _posted(sessions, invoice)
    assert await _issues(sessions, customer_id=invoice.customer_id) == []
    assert await _with_status(sessions, SyncStatus.SYNCED, invoice.customer_id) == [
        invoice.invoice_id
    ]


async def test_the_list_is_longest_failing_first_paged_by_keyset_and_filtered(
    sessions: SessionFactory,
) -> None:
    invoices = [await seed_invoice(sessions) for _ in range(3)]
    for hours, invoice in zip((3, 1, 2), invoices, strict=True):
        key = f"invoice:{invoice.invoice_id}"
        await _failed(sessions, invoice.invoice_id, key, T0 + timedelta(hours=hours), "503")
    ids = {i.invoice_id for i in invoices}
    listed = [i for i in await _issues(sessions) if i.invoice_id in ids]
    assert [i.invoice_id for i in listed] == [
        invoices[1].invoice_id,
        invoices[2].invoice_id,
        invoices[0].invoice_id,
    ]

    first = await _issues(sessions, limit=1, customer_id=invoices[2].customer_id)
    assert [i.invoice_id for i in first] == [invoices[2].invoice_id]
    after = (listed[0].since, listed[0].invoice_id)
    rest = [i.invoice_id for i in await _issues(sessions, after=after) if i.invoice_id in ids]
    assert rest == [invoices[2].invoice_id, invoices[0].invoice_id]
    old = await _issues(sessions, since_before=T0 + timedelta(hours=1, minutes=30))
    assert invoices[1].invoice_id in {i.invoice_id for i in old}
    assert not {invoices[0].invoice_id, invoices[2].invoice_id} & {i.invoice_id for i in old}
