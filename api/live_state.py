"""The invoice process's own view (the `state` query), bounded in time: the API and the
approval page answer from the database when Temporal, or every worker, is away."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import TEMPORAL_AWAY
from schemas.ids import invoice_workflow_id
from schemas.invoice import InvoiceState

log = structlog.get_logger()


# Temporal refuses a query at once when no worker polled the workflow's task queue lately
# (every worker gone for ~20 s): the stored record answers, as when Temporal is away.
NO_WORKER = frozenset({RPCStatusCode.FAILED_PRECONDITION})


async def live_state(
    temporal: Client | None, invoice_id: str, timeout_s: float
) -> InvoiceState | None:
    """The workflow's own view, or None: no workflow, or Temporal (or every worker) away
    or not answering within `timeout_s`, in which case the stored invoice still answers."""
    if temporal is None:
        return None
    handle = temporal.get_workflow_handle(invoice_workflow_id(invoice_id))
    try:
        async with asyncio.timeout(timeout_s + 0.5):  # the SDK's own bound, plus a margin
            return await handle.query(
                "state", result_type=InvoiceState, rpc_timeout=timedelta(seconds=timeout_s)
            )
    except TimeoutError:
        log.warning("api.live_state_unavailable", invoice_id=invoice_id, status="timeout")
        return None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        if err.status in TEMPORAL_AWAY or err.status in NO_WORKER:
            log.warning("api.live_state_unavailable", invoice_id=invoice_id, status=err.status.name)
            return None
        raise
    except WorkflowQueryRejectedError:
        return None
    except WorkflowQueryFailedError as err:  # e.g. a history this code cannot replay
        log.error("api.live_state_failed", invoice_id=invoice_id, error=str(err))
        return None
