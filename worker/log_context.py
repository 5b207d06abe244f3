"""Every structlog event an activity logs names the workflow it ran for.

An activity inbound interceptor binds structlog's context variables for the length of
each activity execution: ``workflow_id``, ``run_id``, ``activity`` (its type) and
``attempt``, the ``invoice_id`` (from an invoice workflow's id, else from the input's
``invoice_id`` or ``invoice.invoice_id``), and the trace id when tracing is on. Each
activity runs in its own asyncio task with its own copy of the context, so concurrent
activities never see each other's fields, and the fields are gone when it returns.

Workflows log through `workflow.logger` (stdlib logging), which the SDK already tags with
the workflow id and run id, and which is silent on replay.
"""

from __future__ import annotations

from typing import Any

import structlog
from opentelemetry import trace
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from schemas.ids import INVOICE_WORKFLOW_PREFIX


def invoice_id_of(workflow_id: str | None, args: Any) -> str | None:
    if workflow_id and workflow_id.startswith(INVOICE_WORKFLOW_PREFIX):
        return workflow_id.removeprefix(INVOICE_WORKFLOW_PREFIX)
    for arg in args[:1]:
        found = getattr(arg, "invoice_id", None)
        if found is None:
            found = getattr(getattr(arg, "invoice", None), "invoice_id", None)
        if isinstance(found, str):
            return found
    return None


def activity_fields(info: activity.Info, args: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "activity": info.activity_type,
        "attempt": info.attempt,
    }
    invoice_id = invoice_id_of(info.workflow_id, args)
    if invoice_id is not None:
        fields["invoice_id"] = invoice_id
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        fields["trace_id"] = format(span.trace_id, "032x")
    return fields


class _BindLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        fields = activity_fields(activity.info(), input.args)
        with structlog.contextvars.bound_contextvars(**fields):
            return await super().execute_activity(input)


class LogContextInterceptor(Interceptor):
    """The worker interceptor (`worker.build.build_worker` installs it)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindLogContext(next)
