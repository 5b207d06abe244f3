"""Who owns a case that needs a person: routes by reason and by customer, round robin in
a group. Shared by PO exceptions (`domain.matching.routing`) and disputes
(`domain.disputes.routing`), which differ only in their reason vocabulary.

Pure: the caller passes the group's members and the group's round-robin counter, and
stores the counter's next value in the same transaction as the case, so two cases opened
at once cannot both go to the same person's turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ReasonT = TypeVar("ReasonT", bound=str)
RouteT = TypeVar("RouteT", bound="Route[Any]")


class Route(BaseModel, Generic[ReasonT]):
    """A route applies when the case has one of its `reasons` (any, if empty) and its
    customer is one of `customers` (any, if empty). `owner` names a fixed person; without
    one, the group's members take turns.

    Generic in the reason type, so each kind of case validates its own vocabulary (a
    dispute route naming a PO-matching reason is a settings error, not a silent no-match).
    """

    model_config = ConfigDict(frozen=True)

    reasons: tuple[ReasonT, ...] = ()
    customers: tuple[str, ...] = ()
    group: str = Field(min_length=1)  # a group of the approval policy, by id or by name
    owner: str | None = None

    def matches(self, reasons: Iterable[str], customer_id: str) -> bool:
        if self.reasons and not set(self.reasons) & set(reasons):
            return False
        return not self.customers or customer_id in self.customers


def first_route(
    routes: Iterable[RouteT], reasons: Iterable[str], customer_id: str
) -> RouteT | None:
    """The first route that matches (routes are in priority order), or None: the caller
    falls back to its default group."""
    wanted = tuple(reasons)  # read once: `reasons` may be a one-shot iterator
    return next((route for route in routes if route.matches(wanted, customer_id)), None)


def pick_owner(route: Route[Any], members: Sequence[str], turn: int) -> str | None:
    """The route's fixed owner, else the member whose turn it is (members in a stable
    order); None for an empty group (operations then decide)."""
    if route.owner is not None:
        return route.owner
    if not members:
        return None
    return members[turn % len(members)]
