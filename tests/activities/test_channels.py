"""Channels in order (activities.channels): the next channel on a hard failure or once an
outage outlasts the limit, a retry within it, every try kept, and written once per attempt
on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlmodel import col, select

from activities.channels import (
    ChannelSend,
    Delivered,
    NotDelivered,
    record_attempts,
    refused_before,
    send_in_order,
)
from integrations.errors import ProviderError
from schemas.delivery_tables import DeliveryAttemptRow
from store import invoices
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract, start_input

T0 = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=30)


class Channel:
    """A fake channel: sends, or raises the failure it was given, and counts its calls."""

    def __init__(self, recipient: str | None = "to", failure: ProviderError | None = None):
        self.recipient = recipient
        self.failure = failure
        self.sent = 0

    async def send(self) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent += 1

    def entry(self) -> ChannelSend:
        return ChannelSend(self.recipient, self.send)


def bounce(provider: str = "smtp") -> ProviderError:
    return ProviderError(provider, 550, "no such mailbox", retryable=False)


def down(provider: str = "smtp") -> ProviderError:
    return ProviderError(provider, 503, "service unavailable", retryable=True)


async def send(
    email: Channel,
    sms: Channel,
    *,
    failing_for: timedelta = timedelta(0),
    order: tuple[str, ...] = ("email", "sms"),
    given_up: frozenset[str] = frozenset(),
) -> Delivered:
    return await send_in_order(
        order,
        {"email": email.entry(), "sms": sms.entry()},
        failing_since=T0,
        outage_limit=LIMIT,
        given_up=given_up,
        now=lambda: T0 + failing_for,
    )


async def test_the_first_channel_that_takes_it_delivers_and_the_rest_are_not_tried() -> None:
    email, sms = Channel("a@x.test"), Channel("+447700900001")
    delivered = await send(email, sms)
    assert (delivered.channel, delivered.recipient) == ("email", "a@x.test")
    assert [a.outcome for a in delivered.attempts] == ["sent"]
    assert (email.sent, sms.sent) == (1, 0)


async def test_the_customers_order_decides_which_channel_goes_first() -> None:
    email, sms = Channel(), Channel()
    delivered = await send(email, sms, order=("sms", "email"))
    assert delivered.channel == "sms"
    assert (email.sent, sms.sent) == (0, 1)


async def test_a_hard_failure_moves_to_the_next_channel_at_once() -> None:
    email, sms = Channel(failure=bounce()), Channel()
    delivered = await send(email, sms)
    assert delivered.channel == "sms"
    assert [(a.channel, a.outcome) for a in delivered.attempts] == [
        ("email", "refused"),
        ("sms", "sent"),
    ]


async def test_an_outage_within_the_limit_is_retried_on_the_same_channel() -> None:
    email, sms = Channel(failure=down()), Channel()
    with pytest.raises(NotDelivered) as raised:
        await send(email, sms, failing_for=timedelta(minutes=29))
    assert raised.value.retryable
    assert [(a.channel, a.outcome) for a in raised.value.attempts] == [("email", "unavailable")]
    assert sms.sent == 0


async def test_an_outage_past_the_limit_moves_to_the_next_channel() -> None:
    email, sms = Channel(failure=down()), Channel()
    delivered = await send(email, sms, failing_for=LIMIT)
    assert delivered.channel == "sms"
    first = delivered.attempts[0]
    assert first.outcome == "unavailable" and "past the 30 min limit" in (first.detail or "")


async def test_every_channel_down_past_the_limit_is_retried_not_given_up() -> None:
    email, sms = Channel(failure=down()), Channel(failure=down("sms"))
    with pytest.raises(NotDelivered) as raised:
        await send(email, sms, failing_for=timedelta(hours=2))
    assert raised.value.retryable
    assert [a.outcome for a in raised.value.attempts] == ["unavailable", "unavailable"]


async def test_every_channel_refusing_is_a_permanent_failure_naming_each() -> None:
    email, sms = Channel(failure=bounce()), Channel(failure=bounce("sms"))
    with pytest.raises(NotDelivered) as raised:
        await send(email, sms)
    assert not raised.value.retryable
    assert raised.value.error.provider == "email+sms"
    assert raised.value.error.detail == "e-mail: no such mailbox; sms: no such mailbox"


async def test_a_channel_without_an_address_is_skipped_and_the_failure_is_the_others() -> None:
    email, sms = Channel(failure=bounce()), Channel(recipient=None)
    with pytest.raises(NotDelivered) as raised:
        await send(email, sms)
    assert not raised.value.retryable
    assert raised.value.error.detail == "no such mailbox"  # the e-mail's own refusal
    assert [(a.channel, a.outcome) for a in raised.value.attempts] == [
        ("email", "refused"),
        ("sms", "skipped"),
    ]


async def test_a_channel_refused_in_an_earlier_attempt_is_not_tried_again() -> None:
    email, sms = Channel(), Channel()
    delivered = await send(email, sms, given_up=frozenset({"email"}))
    assert delivered.channel == "sms"
    assert email.sent == 0


async def test_no_channel_at_all_is_a_permanent_failure() -> None:
    with pytest.raises(NotDelivered) as raised:
        await send(Channel(recipient=None), Channel(recipient=None))
    assert not raised.value.retryable
    assert "no channel reaches the customer" in raised.value.error.detail


@pytest_asyncio.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_attempts_are_written_once_per_activity_attempt_and_refusals_remembered(
    sessions: SessionFactory,
) -> None:
    customer, contract = await customer_and_contract(sessions)
    request = start_input(customer, contract)
    async with transaction(sessions) as session:
        created = await invoices.create_invoice(session, request, T0.date())
    assert created.invoice is not None
    invoice_id = created.invoice.invoice_id
    with pytest.raises(NotDelivered) as raised:
        await send(Channel(failure=bounce()), Channel(failure=down("sms")))
    for _ in range(2):  # the same attempt written twice (a retried write) lands once
        async with transaction(sessions) as session:
            await record_attempts(session, invoice_id, "issue", 1, raised.value.attempts)
    delivered = await send(Channel(), Channel(), given_up=frozenset({"email"}))
    async with transaction(sessions) as session:
        await record_attempts(session, invoice_id, "issue", 2, delivered.attempts)

    async with transaction(sessions, writes=False) as session:
        assert await refused_before(session, invoice_id, "issue") == {"email"}
        assert await refused_before(session, invoice_id, "reminder-1") == set()
        rows = (
            await session.exec(
                select(DeliveryAttemptRow)
                .where(DeliveryAttemptRow.invoice_id == invoice_id)
                .order_by(
                    col(DeliveryAttemptRow.activity_attempt), col(DeliveryAttemptRow.position)
                )
            )
        ).all()
    assert [(r.activity_attempt, r.channel, r.outcome) for r in rows] == [
        (1, "email", "refused"),
        (1, "sms", "unavailable"),
        (2, "email", "skipped"),
        (2, "sms", "sent"),
    ]
