"""Counters of what the activities did, on the worker's Prometheus endpoint (core/metrics.py).

Each is recorded where the event happens, on the running activity's meter
(`activity.metric_meter()`: the SDK adds the namespace, task queue and activity type as
labels). Outside an activity (a unit test calling a helper directly) nothing is recorded.
A retried activity that sends again counts again: these count attempts at the provider,
which is what an operator watching a provider outage wants; the database counts outcomes.

Labels stay few and bounded (a channel, an outcome, a document kind), never an id.
"""

from __future__ import annotations

from temporalio import activity

DELIVERIES = "invoiceflow_deliveries_total"
DELIVERY_FAILURES = "invoiceflow_delivery_failures_total"
REMINDERS = "invoiceflow_reminders_total"
ACCOUNTING_POSTS = "invoiceflow_accounting_posts_total"

_DESCRIPTIONS = {
    DELIVERIES: "Messages a channel took, by channel and message kind",
    DELIVERY_FAILURES: "Sends a channel refused (refused) or could not take (unavailable)",
    REMINDERS: "Reminder steps by outcome (sent, failed, held, superseded) and channel",
    ACCOUNTING_POSTS: "Posts to accounting by document kind and outcome (posted, refused, retry)",
}


def count(name: str, **labels: str) -> None:
    """Add one to the counter `name` with `labels`."""
    if not activity.in_activity():
        return
    try:
        meter = activity.metric_meter()
    except RuntimeError:  # a sync activity in another process has no meter
        return
    meter.create_counter(name, _DESCRIPTIONS[name]).add(1, labels)
