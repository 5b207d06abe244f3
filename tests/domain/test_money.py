"""Tests for domain.money: minor-unit exponents, the half-up rounding rule, formatting."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from domain.errors import InvalidAmount, UnsupportedCurrency
from domain.money import (
    CURRENCY_EXPONENTS,
    ROUNDING,
    exponent,
    format_amount,
    round_minor,
    to_minor,
)


def test_the_rounding_rule_is_half_away_from_zero() -> None:
    assert ROUNDING == decimal.ROUND_HALF_UP


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("GBP", 2),
        ("EUR", 2),
        ("USD", 2),
        ("CAD", 2),
        ("AUD", 2),
        ("NZD", 2),
        ("CHF", 2),
        ("SEK", 2),
        ("NOK", 2),
        ("DKK", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
    ],
)
def test_exponent_is_the_iso_4217_minor_unit(currency: str, digits: int) -> None:
    assert exponent(currency) == digits
    assert CURRENCY_EXPONENTS[currency] == digits


@pytest.mark.parametrize("currency", ["XYZ", "gbp", "", "POUND"])
def test_exponent_of_unknown_currency_names_it(currency: str) -> None:
    with pytest.raises(UnsupportedCurrency) as excinfo:
        exponent(currency)
    assert excinfo.value.code == "unsupported_currency"
    assert repr(currency) in excinfo.value.detail


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1234.56", "GBP", 123456),
        ("0", "GBP", 0),
        ("1.004", "GBP", 100),
        ("1.005", "GBP", 101),  # exactly half a penny rounds up
        ("-1.005", "GBP", -101),  # ... and away from zero when negative
        ("0.125", "EUR", 13),  # half-even would give 12
        ("2.5", "JPY", 3),  # half-even would give 2
        ("100.4", "JPY", 100),
        ("1.0005", "KWD", 1001),
        ("12", "USD", 1200),
    ],
)
def test_to_minor_rounds_half_up_to_the_minor_unit(amount: str, currency: str, minor: int) -> None:
    assert to_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),
        ("2.4999", 2),
        ("4999.5", 5000),
        ("-0.5", -1),
        ("-2.5", -3),
        ("-2.4999", -2),
        ("7", 7),
    ],
)
def test_round_minor_rounds_half_away_from_zero(value: str, rounded: int) -> None:
    assert round_minor(Decimal(value)) == rounded


def test_rounding_ignores_the_callers_decimal_context() -> None:
    with decimal.localcontext(prec=3, rounding=decimal.ROUND_HALF_EVEN):
        assert round_minor(Decimal("2.5")) == 3
        assert to_minor(Decimal("123456.785"), "GBP") == 12345679


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_amounts_are_refused(value: str) -> None:
    with pytest.raises(InvalidAmount):
        round_minor(Decimal(value))
    with pytest.raises(InvalidAmount):
        to_minor(Decimal(value), "GBP")


def test_to_minor_refuses_floats() -> None:
    with pytest.raises(TypeError):
        to_minor(0.1, "GBP")  # type: ignore[arg-type]


def test_to_minor_of_unknown_currency_raises() -> None:
    with pytest.raises(UnsupportedCurrency):
        to_minor(Decimal("1"), "XYZ")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123400, "GBP", "GBP 1,234.00"),
        (-5, "GBP", "GBP -0.05"),
        (1000, "JPY", "JPY 1,000"),
        (0, "GBP", "GBP 0.00"),
        (100, "GBP", "GBP 1.00"),
        (123456789, "USD", "USD 1,234,567.89"),
        (-123456, "EUR", "EUR -1,234.56"),
        (1234567, "KWD", "KWD 1,234.567"),
        (7, "KRW", "KRW 7"),
        (-1234567, "JPY", "JPY -1,234,567"),
    ],
)
def test_format_amount_plain_form(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text


def test_format_amount_of_unknown_currency_raises() -> None:
    with pytest.raises(UnsupportedCurrency):
        format_amount(100, "XYZ")
