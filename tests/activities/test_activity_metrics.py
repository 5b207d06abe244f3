"""The activities' counters (activities/metrics.py) on the activity's meter: a delivery and
a failure by channel and kind where the channel answered, a reminder step by outcome, once
per send (a repeat that finds the step sent counts nothing), nothing outside an activity."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities import metrics
from activities.channels import ChannelSend, NotDelivered, send_in_order
from integrations.errors import ProviderError
from tests.activities.test_reminder_activity import (  # noqa: F401 (fixture)
    Setup,
    _input,
    _invoice,
    setup,
)

T0 = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)


class Metered:
    """An activity environment whose meter lands in a buffer, and the counts read back."""

    def __init__(self) -> None:
        self.buffer = MetricBuffer(10_000)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self.buffer))
        self.seen: Counter[tuple[str, frozenset[tuple[str, str]]]] = Counter()

    def env(self) -> ActivityEnvironment:
        env = ActivityEnvironment()
        env.metric_meter = self.runtime.metric_meter
        return env

    def counts(self, name: str) -> dict[frozenset[tuple[str, str]], int]:
        for update in self.buffer.retrieve_updates():
            ours = {
                k: str(v)
                for k, v in update.attributes.items()
                if k not in ("namespace", "task_queue", "activity_type", "service_name")
            }
            self.seen[(update.metric.name, frozenset(ours.items()))] += int(update.value)
        return {labels: n for (metric, labels), n in self.seen.items() if metric == name}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


async def refused() -> None:
    raise ProviderError("smtp", 550, "mailbox unknown", retryable=False)


async def down() -> None:
    raise ProviderError("sms", 503, "maintenance", retryable=True)


async def sent() -> None:
    return None


async def test_a_refusal_then_a_send_count_a_failure_and_a_delivery_by_channel() -> None:
    metered = Metered()

    async def deliver() -> str:
        delivered = await send_in_order(
            ["email", "sms"],
            {"email": ChannelSend("a@b.test", refused), "sms": ChannelSend("+44", sent)},
            failing_since=T0,
            outage_limit=timedelta(minutes=30),
            now=lambda: T0,
            kind="invoice",
        )
        return delivered.channel

    assert await metered.env().run(deliver) == "sms"
    assert metered.counts(metrics.DELIVERY_FAILURES) == {
        labels(channel="email", kind="invoice", reason="refused"): 1
    }
    assert metered.counts(metrics.DELIVERIES) == {labels(channel="sms", kind="invoice"): 1}


async def test_a_channel_down_counts_as_unavailable_and_nothing_delivered() -> None:
    metered = Metered()

    async def deliver() -> None:
        try:
            await send_in_order(
                ["sms"],
                {"sms": ChannelSend("+44", down)},
                failing_since=T0,
                outage_limit=timedelta(minutes=30),
                now=lambda: T0 + timedelta(minutes=1),
                kind="reminder",
            )
        except NotDelivered as failed:
            assert failed.retryable

    await metered.env().run(deliver)
    assert metered.counts(metrics.DELIVERY_FAILURES) == {
        labels(channel="sms", kind="reminder", reason="unavailable"): 1
    }
    assert metered.counts(metrics.DELIVERIES) == {}


async def test_outside_an_activity_nothing_is_counted_and_nothing_fails() -> None:
    metrics.count(metrics.DELIVERIES, channel="email", kind="invoice")


async def test_a_reminder_sent_counts_once_however_often_the_step_runs(setup: Setup) -> None:  # noqa: F811
    metered = Metered()
    invoice = await _invoice(setup, "ap@counted.test")
    data = _input(invoice)
    first = await metered.env().run(setup.activities.send_reminder, data)
    assert first.outcome == "sent"
    again = await metered.env().run(setup.activities.send_reminder, data)
    assert again.outcome == "sent"
    assert metered.counts(metrics.REMINDERS) == {labels(outcome="sent", channel="email"): 1}
    assert metered.counts(metrics.DELIVERIES) == {labels(channel="email", kind="reminder"): 1}
