"""Tests for domain.routing and the PO-exception routing built on it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.matching.model import MatchReasonCode
from domain.matching.routing import ExceptionRoute, ExceptionRouting, pick_owner
from domain.routing import Route, first_route

PRICE = MatchReasonCode.PRICE_VARIANCE
QTY = MatchReasonCode.QUANTITY_OVER_ORDERED


def test_a_route_without_reasons_or_customers_matches_everything() -> None:
    assert Route[str](group="g").matches(["anything"], "c1")
    assert Route[str](group="g").matches([], "c1")


def test_a_route_needs_one_of_its_reasons_and_one_of_its_customers() -> None:
    route = Route[str](reasons=("a", "b"), customers=("c1",), group="g")
    assert route.matches(["b", "z"], "c1")
    assert not route.matches(["z"], "c1")
    assert not route.matches(["a"], "c2")


def test_the_first_matching_route_wins() -> None:
    routes = [
        Route[str](reasons=("a",), group="first"),
        Route[str](group="second"),
        Route[str](group="third"),
    ]
    first = first_route(routes, iter(["a"]), "c")  # reasons may be a one-shot iterator
    assert first is not None and first.group == "first"
    second = first_route(routes, ["b"], "c")
    assert second is not None and second.group == "second"
    assert first_route(routes[:1], ["b"], "c") is None


def test_members_take_turns_and_a_fixed_owner_always_owns() -> None:
    route = Route[str](group="g")
    assert [pick_owner(route, ["ann", "bob", "cy"], turn) for turn in range(4)] == [
        "ann",
        "bob",
        "cy",
        "ann",
    ]
    assert pick_owner(route, [], 3) is None
    assert pick_owner(Route[str](group="g", owner="dee"), ["ann"], 0) == "dee"


def test_exception_routing_routes_by_reason_then_customer_then_default() -> None:
    routing = ExceptionRouting(
        routes=(
            ExceptionRoute(reasons=(PRICE,), group="Pricing desk"),
            ExceptionRoute(customers=("acme",), group="Key accounts", owner="kim"),
        )
    )
    assert routing.route_for([QTY, PRICE], "other").group == "Pricing desk"
    assert routing.route_for([QTY], "acme").owner == "kim"
    fallback = routing.route_for([QTY], "other")
    assert isinstance(fallback, ExceptionRoute)
    assert fallback.group == "Accounts receivable"
    assert routing.escalation_group == "Finance managers"


def test_exception_routes_load_from_settings_and_refuse_unknown_reasons() -> None:
    routing = ExceptionRouting.model_validate(
        {"routes": [{"reasons": ["PRICE_VARIANCE"], "group": "Pricing desk"}]}
    )
    assert routing.routes[0].reasons == (PRICE,)
    with pytest.raises(ValidationError):
        ExceptionRoute.model_validate({"reasons": ["pricing"], "group": "g"})
