"""Channels in the customer's order: try each until one delivers, and keep every try.

One message (the invoice, a reminder) goes to the customer by the first channel of their
`channel_order` that takes it. A channel that refuses it for good (a hard bounce, a
number that is no phone) hands over to the next at once; one that is down (a retryable
provider error) is retried by the activity's RetryPolicy, and hands over only once this
delivery has been failing longer than the outage limit, so a short blip does not turn an
e-mail into a text message but a long outage does not hold the invoice for hours. Past
the limit the earlier channel is still tried first on every retry: whichever comes back
first delivers, in the customer's order.

The caller (an activity) supplies what differs per message and stays in charge of the
database: the senders (one closure per channel, each with its own idempotency key, so a
retried attempt sends nothing twice), how long the delivery has been failing (the first
attempt's `activity.info().scheduled_time`, see `failing_since`), and the channels refused
in earlier attempts (`refused_before`), which are skipped. Every try comes back as a
`ChannelAttempt`, on success in `Delivered.attempts` and on failure in
`NotDelivered.attempts`, for `record_attempts` to write in the caller's transaction (on
the happy path the same one that records the delivery: SQLite has one writer).

    delivered = await send_in_order(
        customer_order,
        {"email": ChannelSend(email, send_mail), "sms": ChannelSend(phone, send_text)},
        failing_since=failing_since(),
        outage_limit=timedelta(minutes=30),
        given_up=await refused_before(session, invoice_id, "issue"),
    )
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities import metrics
from integrations.errors import ProviderError
from schemas.delivery_tables import DeliveryAttemptRow
from store.db import insert_if_absent

Outcome = Literal["sent", "refused", "unavailable", "skipped"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChannelSend:
    """One channel for one message: its recipient (None: the customer has no address on
    it, so it is skipped) and the call that sends, raising `ProviderError` on failure."""

    recipient: str | None
    send: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ChannelAttempt:
    channel: str
    outcome: Outcome
    recipient: str | None = None
    detail: str | None = None
    at: datetime = field(default_factory=_utc_now)


@dataclass(frozen=True)
class Delivered:
    channel: str
    recipient: str
    attempts: list[ChannelAttempt]


class NotDelivered(Exception):
    """No channel delivered in this try. `retryable`: a channel is only down (retry the
    activity); otherwise every channel refused or had no address. `error` names them all
    (`provider` "email+sms", `detail` "e-mail: …; sms: …") or is the one channel's own."""

    def __init__(self, attempts: list[ChannelAttempt], error: ProviderError) -> None:
        super().__init__(str(error))
        self.attempts = attempts
        self.error = error
        self.retryable = error.retryable


_LABELS = {"email": "e-mail"}


def _minutes(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


async def send_in_order(
    order: Sequence[str],
    channels: Mapping[str, ChannelSend],
    *,
    failing_since: datetime,
    outage_limit: timedelta,
    given_up: Collection[str] = frozenset(),
    now: Callable[[], datetime] = _utc_now,
    kind: str = "message",
) -> Delivered:
    """Send by the first channel of `order` that takes the message.

    A channel missing from `channels`, without a recipient, or in `given_up` is skipped.
    Raises `NotDelivered` with every try when none delivered: retryable when the channel
    that stopped the try is down and `failing_since` is less than `outage_limit` ago, or
    when a channel past the limit was down rather than refusing. `kind` ("invoice",
    "reminder") labels the delivery metrics."""
    attempts: list[ChannelAttempt] = []
    failures: list[tuple[str, ProviderError]] = []
    for channel in order:
        entry = channels.get(channel)
        if channel in given_up:
            attempts.append(ChannelAttempt(channel, "skipped", detail="refused earlier"))
            continue
        if entry is None or not entry.recipient:
            attempts.append(ChannelAttempt(channel, "skipped", detail="no address"))
            continue
        try:
            await entry.send()
        except ProviderError as err:
            reason = "unavailable" if err.retryable else "refused"
            metrics.count(metrics.DELIVERY_FAILURES, channel=channel, kind=kind, reason=reason)
            if not err.retryable:
                attempts.append(ChannelAttempt(channel, "refused", entry.recipient, err.detail))
                failures.append((channel, err))
                continue
            failing = now() - failing_since
            if failing < outage_limit:
                detail = f"{err.detail} (failing {_minutes(failing)}, retried)"
                attempts.append(ChannelAttempt(channel, "unavailable", entry.recipient, detail))
                raise NotDelivered(attempts, err) from err
            detail = (
                f"{err.detail} (failing {_minutes(failing)}, past the"
                f" {_minutes(outage_limit)} limit: next channel)"
            )
            attempts.append(ChannelAttempt(channel, "unavailable", entry.recipient, detail))
            failures.append((channel, err))
            continue
        attempts.append(ChannelAttempt(channel, "sent", entry.recipient))
        metrics.count(metrics.DELIVERIES, channel=channel, kind=kind)
        return Delivered(channel, entry.recipient, attempts)
    raise NotDelivered(attempts, _combined(failures, attempts))


def _combined(
    failures: list[tuple[str, ProviderError]], attempts: list[ChannelAttempt]
) -> ProviderError:
    """The one failure as it was, or one naming every channel's (retryable if any was down)."""
    if len(failures) == 1:
        return failures[0][1]
    if not failures:
        tried = ", ".join(a.channel for a in attempts) or "none"
        return ProviderError(
            "delivery", None, f"no channel reaches the customer ({tried})", retryable=False
        )
    return ProviderError(
        "+".join(channel for channel, _ in failures),
        failures[-1][1].status,
        "; ".join(f"{_LABELS.get(ch, ch)}: {err.detail}" for ch, err in failures),
        retryable=any(err.retryable for _, err in failures),
    )


def failing_since() -> datetime:
    """When this delivery started: the first attempt's schedule time (Temporal keeps it
    across retries; `current_attempt_scheduled_time` is the retry's own)."""
    return activity.info().scheduled_time


async def refused_before(session: AsyncSession, invoice_id: str, purpose: str) -> set[str]:
    """The channels that refused this message for good in an earlier attempt."""
    rows = await session.exec(
        select(DeliveryAttemptRow.channel).where(
            DeliveryAttemptRow.invoice_id == invoice_id,
            DeliveryAttemptRow.purpose == purpose,
            col(DeliveryAttemptRow.outcome) == "refused",
        )
    )
    return set(rows)


async def record_attempts(
    session: AsyncSession,
    invoice_id: str,
    purpose: str,
    activity_attempt: int,
    attempts: Sequence[ChannelAttempt],
) -> None:
    """Write each try once (a repeated write of the same activity attempt changes nothing)."""
    for position, tried in enumerate(attempts):
        await insert_if_absent(
            session,
            DeliveryAttemptRow,
            id=f"{invoice_id}:{purpose}:{activity_attempt}:{tried.channel}",
            invoice_id=invoice_id,
            purpose=purpose,
            activity_attempt=activity_attempt,
            position=position,
            channel=tried.channel,
            outcome=tried.outcome,
            recipient=tried.recipient,
            detail=tried.detail,
            at=tried.at,
        )
