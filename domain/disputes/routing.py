"""Who owns a dispute: the shared routing of `domain.routing` (by reason category, by
customer, round robin in a group) with the dispute reason categories.

Routing decides level 1, where disputes are worked: by reason (pricing to the sales
desk, tax to the tax team) or by customer (a key account's manager). Above level 1 the
ladder (`domain.disputes.ladder`) decides: each level names one group, whoever the
customer and whatever the reason, because escalation is about seniority. So the
ladder's level-1 group is not used for routing; `DisputeRouting.default_group` is
level 1's fallback.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.disputes.ladder import DisputeLadder
from domain.disputes.model import DisputeReason
from domain.routing import Route, first_route


class DisputeRoute(Route[DisputeReason]):
    """A route for disputes: `reasons` are dispute reason categories."""


class DisputeRouting(BaseModel):
    """The level-1 routes in order (first match wins) and the group for everything else."""

    model_config = ConfigDict(frozen=True)

    routes: tuple[DisputeRoute, ...] = ()
    default_group: str = Field(default="Accounts receivable", min_length=1)

    def route_for(self, reason: DisputeReason, customer_id: str) -> DisputeRoute:
        route = first_route(self.routes, (reason,), customer_id)
        return route if route is not None else DisputeRoute(group=self.default_group)


def route_at_level(
    routing: DisputeRouting,
    ladder: DisputeLadder,
    level: int,
    reason: DisputeReason,
    customer_id: str,
) -> DisputeRoute:
    """The route for a dispute at `level`: the routing's at level 1, the ladder's group
    (members taking turns) above it. Pass the result to `domain.routing.pick_owner`."""
    if level == 1:
        return routing.route_for(reason, customer_id)
    return DisputeRoute(group=ladder.level(level).group)
