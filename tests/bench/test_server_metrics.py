# ruff: noqa: E501  (Prometheus lines are as the server writes them)
"""The benchmark reads the Temporal server's counters per workflow from its /metrics."""

from __future__ import annotations

from bench.server_metrics import parse, per_workflow, report

BEFORE = """\
# HELP service_requests service_requests counter
# TYPE service_requests counter
service_requests{namespace="default",operation="StartWorkflowExecution",service_name="frontend"} 10
service_requests{namespace="default",operation="RecordActivityTaskStarted",service_name="history"} 99
service_requests{namespace="system",operation="StartWorkflowExecution",service_name="frontend"} 7
# TYPE persistence_requests counter
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 40
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="matching"} 2
# TYPE persistence_latency histogram
persistence_latency_bucket{operation="UpdateWorkflowExecution",le="0.1"} 5
"""
AFTER = BEFORE.replace('frontend"} 10', 'frontend"} 30').replace(
    'service_name="history"} 40', 'service_name="history"} 140'
)


def test_counters_are_summed_by_operation_for_the_default_namespace() -> None:
    sample = parse(BEFORE)

    assert sample == {
        ("frontend RPC", "StartWorkflowExecution"): 10,  # not the system namespace's 7
        ("persistence", "UpdateWorkflowExecution"): 42,  # history and matching together
    }  # the history service's own RPCs and the histograms are left out


def test_per_workflow_divides_what_changed_during_the_phase() -> None:
    changed = per_workflow(parse(BEFORE), parse(AFTER), workflows=20)

    assert changed == {
        ("frontend RPC", "StartWorkflowExecution"): 1.0,
        ("persistence", "UpdateWorkflowExecution"): 5.0,
    }


def test_the_report_ranks_operations_by_how_much_the_last_phase_differs() -> None:
    floor = {("persistence", "UpdateWorkflowExecution"): 5.0, ("frontend RPC", "Signal"): 1.0}
    real = {("persistence", "UpdateWorkflowExecution"): 9.0, ("frontend RPC", "Signal"): 1.0}

    lines = report(["floor", "real"], [floor, real]).splitlines()

    rows = [line.split() for line in lines[2:]]  # after the blank line and the heading
    assert rows[0][-2:] == ["1.0", "1.0"]  # frontend RPC, all
    assert rows[1][-2:] == ["5.0", "9.0"]  # persistence, all
    assert rows[3][:2] == ["persistence:", "UpdateWorkflowExecution"]  # the largest change
    assert rows[3][-2:] == ["5.0", "9.0"]
