"""The benchmark's profile summary groups py-spy's samples by what they belong to."""

from __future__ import annotations

from bench.profile import summarise

LINES = [
    "run (worker/__main__.py:40);_ActivityWorker._run_activity (temporalio/worker/_activity.py:1)"
    ";DeliveryActivities.deliver_invoice (activities/delivery.py:50)"
    ";EmailSender.send (integrations/email.py:60);build_message (email/message.py:3) 30",
    "run (worker/__main__.py:40);_ActivityWorker._run_activity (temporalio/worker/_activity.py:1)"
    ";AccountingActivities.post_invoice (activities/accounting.py:9)"
    ";AsyncClient.post (httpx/_client.py:1) 20",
    "run (worker/__main__.py:40)"
    ";_WorkflowWorker._handle_activation (temporalio/worker/_workflow.py:1)"
    ";_Instance._run_code (temporalio/worker/workflow_sandbox/_runner.py:1) 40",
    "run (worker/__main__.py:40);BaseEventLoop._run_once (asyncio/base_events.py:1) 10",
    "",
]


def test_samples_are_grouped_by_activity_and_by_library() -> None:
    summary = summarise(LINES)

    lines = {
        line.strip().rsplit(" ", 1)[0].strip(): line.rsplit(" ", 1)[1]
        for line in summary.splitlines()[1:]
        if line.strip().endswith("%")
    }
    assert lines["activity: deliver (link, render, e-mail)"] == "30%"
    assert lines["activity: accounting posts"] == "20%"
    assert lines["workflow code and the SDK's workflow side"] == "40%"
    assert lines["other (event loop, I/O)"] == "10%"
    assert lines["e-mail (MIME + SMTP)"] == "30%"
    assert lines["httpx"] == "20%"
    assert lines["workflow sandbox"] == "40%"
    assert "100 samples" in summary.splitlines()[1]


def test_no_samples_says_so() -> None:
    assert "no samples" in summarise(["", " "])
