"""Resolving a PO exception: the `resolve_exception` update of the invoice's workflow, with
its refusals mapped to HTTP once for the JSON API and the review page.

The workflow's update validator is the authority on every rule (who may resolve, what a
resolution needs): a refusal there writes nothing to history, and its code comes back
here. Before asking, the stored exception must still be open: the update names no
exception (it acts on whichever one the invoice has open), so an old link or id of an
exception that was settled, after which the invoice opened another, must not resolve the
new one.
"""

from __future__ import annotations

from temporalio.client import Client

from api.errors import ApiError
from api.updates import invoice_update
from schemas.exception_tables import InvoiceExceptionRow
from schemas.matching import ResolveExceptionInput, ResolveExceptionResult

# Each refusal code of the update (workflows.stages.match, workflows.human_task) with its
# HTTP status and title.
REFUSALS: dict[str, tuple[int, str]] = {
    "not_your_task": (403, "Not yours to resolve"),
    "task_closed": (409, "Already resolved"),
    "no_exception": (409, "Already resolved"),
    "task_expired": (410, "Expired: an operator resolves it now"),
    "justification_required": (422, "A justification is required"),
    "not_acceptable": (422, "This exception cannot be accepted"),
    "empty_correction": (422, "The correction is empty"),
    "choice_not_allowed": (422, "Not a resolution of this exception"),
}
CLOSED = ("task_closed", "no_exception")


class ResolutionRefused(ApiError):
    """The workflow (or the stored exception) refused the resolution; `code` says why."""

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail, code=code)
        self.status, self.title = REFUSALS.get(code, (409, "Refused"))


def closed_refusal(row: InvoiceExceptionRow) -> ResolutionRefused:
    how = f"{row.resolution} by {row.resolved_by}" if row.resolution else row.status
    return ResolutionRefused(
        f"exception {row.id} is already {row.status} ({how})", code="task_closed"
    )


async def resolve(
    temporal: Client, row: InvoiceExceptionRow, data: ResolveExceptionInput
) -> ResolveExceptionResult:
    """Send the resolution. Raises ResolutionRefused (the update's refusal, or the
    exception no longer open), ServiceUnavailable (no worker took it in time), or the
    RPCError of a Temporal that is away (the app's handler answers 503)."""
    if row.status != "open":
        raise closed_refusal(row)

    async def ended() -> ApiError:
        # no running process: the invoice went on (or was cancelled) since it was read
        return ResolutionRefused(
            f"the invoice of exception {row.id} is no longer waiting", code="task_closed"
        )

    try:
        return await invoice_update(
            temporal,
            row.invoice_id,
            "resolve_exception",
            data,
            ResolveExceptionResult,
            ended=ended,
            what="resolution",
        )
    except ResolutionRefused:
        raise
    except ApiError as err:
        if err.code in REFUSALS or err.status == 409:  # the update's refusal
            raise ResolutionRefused(err.detail, code=err.code) from err
        raise
