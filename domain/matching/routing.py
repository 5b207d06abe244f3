"""Who owns a PO exception: routes by reason and by customer, round robin in a group.

Pure: the caller passes the groups' members and the group's round-robin counter, and
stores the counter's next value in the same transaction as the exception, so two
exceptions opened at once cannot both go to the same person's turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from domain.matching.model import MatchReasonCode

_FROZEN = ConfigDict(frozen=True)


class ExceptionRoute(BaseModel):
    """A route applies when the exception has one of its `reasons` (any, if empty) and its
    customer is one of `customers` (any, if empty). `owner` names a fixed person; without
    one, the group's members take turns."""

    model_config = _FROZEN

    reasons: tuple[MatchReasonCode, ...] = ()
    customers: tuple[str, ...] = ()
    group: str = Field(min_length=1)
    owner: str | None = None


class ExceptionRouting(BaseModel):
    """The routes in order (first match wins), the group for everything else, and the
    group an unresolved exception escalates to."""

    model_config = _FROZEN

    routes: tuple[ExceptionRoute, ...] = ()
    # groups of the approval policy, by id or by name
    default_group: str = "Accounts receivable"
    escalation_group: str | None = "Finance managers"

    def route_for(self, reasons: Sequence[MatchReasonCode], customer_id: str) -> ExceptionRoute:
        for route in self.routes:
            if route.reasons and not set(route.reasons) & set(reasons):
                continue
            if route.customers and customer_id not in route.customers:
                continue
            return route
        return ExceptionRoute(group=self.default_group)


def pick_owner(route: ExceptionRoute, members: Sequence[str], turn: int) -> str | None:
    """The route's fixed owner, else the member whose turn it is (members in a stable
    order); None for an empty group (operations then decide)."""
    if route.owner is not None:
        return route.owner
    if not members:
        return None
    return members[turn % len(members)]
