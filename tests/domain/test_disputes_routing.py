"""Tests for domain.disputes.routing: who owns a dispute at each level."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.disputes import (
    DisputeLadder,
    DisputeReason,
    DisputeRoute,
    DisputeRouting,
    route_at_level,
)
from domain.routing import pick_owner

ROUTING = DisputeRouting(
    routes=(
        DisputeRoute(reasons=(DisputeReason.TAX,), group="Tax team"),
        DisputeRoute(
            reasons=(DisputeReason.PRICING, DisputeReason.QUANTITY),
            customers=("acme",),
            group="Key accounts",
            owner="kim",
        ),
    )
)


def test_disputes_route_by_reason_category() -> None:
    assert ROUTING.route_for(DisputeReason.TAX, "anyone").group == "Tax team"


def test_disputes_route_by_reason_and_customer() -> None:
    route = ROUTING.route_for(DisputeReason.QUANTITY, "acme")
    assert (route.group, route.owner) == ("Key accounts", "kim")
    assert pick_owner(route, ["ann", "bob"], 7) == "kim"


def test_unrouted_disputes_go_to_accounts_receivable_in_turns() -> None:
    route = ROUTING.route_for(DisputeReason.QUANTITY, "other")
    assert route.group == "Accounts receivable"
    assert [pick_owner(route, ["ann", "bob"], turn) for turn in (0, 1, 2)] == ["ann", "bob", "ann"]


def test_dispute_routes_load_from_settings_and_refuse_other_vocabularies() -> None:
    routing = DisputeRouting.model_validate(
        {"routes": [{"reasons": ["not_received"], "group": "Logistics"}], "default_group": "AR"}
    )
    assert routing.route_for(DisputeReason.NOT_RECEIVED, "c").group == "Logistics"
    assert routing.route_for(DisputeReason.OTHER, "c").group == "AR"
    with pytest.raises(ValidationError):
        DisputeRoute.model_validate({"reasons": ["PRICE_VARIANCE"], "group": "g"})


def test_above_level_one_the_ladder_names_the_group() -> None:
    ladder = DisputeLadder()
    assert route_at_level(ROUTING, ladder, 1, DisputeReason.TAX, "c").group == "Tax team"
    level_2 = route_at_level(ROUTING, ladder, 2, DisputeReason.TAX, "acme")
    assert (level_2.group, level_2.owner) == ("Senior finance", None)
    assert route_at_level(ROUTING, ladder, 3, DisputeReason.OTHER, "c").group == "Finance managers"
    with pytest.raises(ValueError, match="no level 4"):
        route_at_level(ROUTING, ladder, 4, DisputeReason.OTHER, "c")
