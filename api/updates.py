"""Sending a human action to an invoice process as a Temporal update, with one mapping of
its outcomes to HTTP: refused by the validator (nothing written to history) is 409 with
the refusal's code, no workflow is 404, no worker in time is 503 (the action may or may
not have been applied, and a repeat with the same update id is safe)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import UPDATE_TIMEOUT, ApiError, Conflict, NotFoundError, ServiceUnavailable
from schemas.ids import invoice_workflow_id

R = TypeVar("R")


class UpstreamRefused(ApiError):
    status, title, code = 502, "Refused by a provider", "provider_refused"


# refusal codes that are not a conflict with the invoice's state
_STATUS_BY_CODE: dict[str, type[ApiError]] = {"resend_failed": UpstreamRefused}


async def invoice_update(
    temporal: Client,
    invoice_id: str,
    update: str,
    arg: Any,
    result_type: type[R],
    *,
    update_id: str | None = None,
    ended: Callable[[], Awaitable[ApiError | None]] | None = None,
    what: str | None = None,
    workflow_id: str | None = None,
) -> R:
    """`ended`: asked when Temporal knows no running process (it finished, or never was):
    the refusal to give for an invoice whose process has ended, or None (404). `what`
    names the action in a 503's words (default: the update's name). `workflow_id` sends
    it to another process of the invoice (a dispute's) instead of the invoice's own."""
    handle = temporal.get_workflow_handle(workflow_id or invoice_workflow_id(invoice_id))
    try:
        return await handle.execute_update(
            update, arg, id=update_id, result_type=result_type, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        code = cause.type if isinstance(cause, ApplicationError) and cause.type else "refused"
        message = str(cause.message if isinstance(cause, ApplicationError) else cause)
        raise _STATUS_BY_CODE.get(code, Conflict)(message, code=code) from failed
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            refusal = await ended() if ended else None
            raise refusal or NotFoundError(f"invoice {invoice_id} does not exist") from err
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:  # no worker took it in time
        raise ServiceUnavailable(
            f"the invoice process did not answer in time; the {what or update} may or may not have"
            " been applied: read the invoice, then send the same request again",
            code="temporal_unavailable",
        ) from err
