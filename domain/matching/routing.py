"""Who owns a PO exception: the shared routing of `domain.routing` (by reason, by customer,
round robin in a group) with the matcher's reason codes, plus the group an unresolved
exception escalates to.

`pick_owner` is re-exported so callers keep importing it from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from domain.matching.model import MatchReasonCode
from domain.routing import Route, first_route
from domain.routing import pick_owner as pick_owner


class ExceptionRoute(Route[MatchReasonCode]):
    """A route for PO exceptions: `reasons` are match reason codes."""


class ExceptionRouting(BaseModel):
    """The routes in order (first match wins), the group for everything else, and the
    group an unresolved exception escalates to."""

    model_config = ConfigDict(frozen=True)

    routes: tuple[ExceptionRoute, ...] = ()
    # groups of the approval policy, by id or by name
    default_group: str = "Accounts receivable"
    escalation_group: str | None = "Finance managers"

    def route_for(self, reasons: Sequence[MatchReasonCode], customer_id: str) -> ExceptionRoute:
        route = first_route(self.routes, reasons, customer_id)
        return route if route is not None else ExceptionRoute(group=self.default_group)
