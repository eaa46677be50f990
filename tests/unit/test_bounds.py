"""What a user gives is bounded and refused with a typed error otherwise (docs/lifecycle.md
section 7): amounts, instants, durations, database URLs; arithmetic on bounded amounts is exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from chargeflow.domain.charge import ChargeIntent
from chargeflow.domain.durations import add_duration, parse_duration
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.money import (
    BoundedAmount,
    bounded,
    exact_sum,
    require_minor_units,
    to_decimal,
)
from chargeflow.domain.prices import PRICE_ADAPTER
from chargeflow.domain.timestamps import to_instant
from chargeflow.domain.usage import UsageEvent
from chargeflow.domain.validation import build
from chargeflow.engines.rating import rate
from chargeflow.persistence.sql import SqlDatabase

AMOUNT: TypeAdapter[Decimal] = TypeAdapter(BoundedAmount)
PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")


@pytest.mark.parametrize(
    "value",
    ["1E+26", "1000000000000000", "-1000000000000000", "0.0000000001", "1e-10", "NaN", "-Inf"],
)
def test_amounts_beyond_15_digits_or_9_places_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError):
        bounded(to_decimal(value))
    with pytest.raises(InvalidInputError, match="value"):
        build(UsageEvent, customer_id="c", feature_key="f", value=value, event_time=PERIOD[0])


@pytest.mark.parametrize(
    "value", ["999999999999999", "-999999999999999.999999999", "0.000000001", "1.5000000000"]
)
def test_amounts_within_the_bounds_are_accepted_exactly(value: str) -> None:
    assert AMOUNT.validate_python(value) == Decimal(value)


@pytest.mark.parametrize(
    ("amount", "currency", "refused"),
    [("0.001", "USD", True), ("0.01", "USD", False), ("1", "JPY", False), ("0.5", "JPY", True)],
)
def test_grants_and_flat_amounts_are_whole_minor_units(
    amount: str, currency: str, refused: bool
) -> None:
    if refused:
        with pytest.raises(InvalidInputError, match="minor units"):
            require_minor_units(Decimal(amount), currency, "credit grant")
    else:
        require_minor_units(Decimal(amount), currency, "credit grant")


@pytest.mark.parametrize(
    "price",
    [
        {"type": "flat", "amount": "0.001"},
        {
            "type": "tiered_volume",
            "tiers": [{"up_to": None, "unit_amount": "1", "flat_amount": "0.005"}],
        },
    ],
)
def test_a_charge_with_a_flat_amount_finer_than_a_cent_is_refused(price: object) -> None:
    with pytest.raises(InvalidInputError, match="minor units"):
        build(
            ChargeIntent,
            customer_id="c",
            currency="USD",
            feature_key="f",
            service_period=PERIOD,
            settlement_mode="credit_only",
            price=price,
        )


def test_unit_prices_may_be_finer_than_the_minor_units() -> None:
    price = PRICE_ADAPTER.validate_python({"type": "unit", "amount": "0.000001"})
    assert rate(price, Decimal(1500), "USD") == Decimal("0.00")
    assert rate(price, Decimal(5000), "USD") == Decimal("0.01")


def test_rating_the_largest_bounded_inputs_is_exact() -> None:
    price = PRICE_ADAPTER.validate_python({"type": "unit", "amount": "999999999999999.999999999"})
    quantity = Decimal("999999999999999.999999999")
    # (10^15 - 10^-9)^2 = 10^30 - 2*10^6 + 10^-18, in full before rounding to cents
    assert rate(price, quantity, "USD") == Decimal("999999999999999999999998000000.00")
    assert exact_sum([quantity] * 1000) == Decimal("999999999999999999.999999000")


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "1969-12-31T23:59:59Z",
        "9999-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T00:00:00",
    ],
)
def test_instants_outside_1970_to_9998_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        to_instant(text)


@pytest.mark.parametrize("text", ["P99999999D", "P101Y", "P36600D", "-P1D", "P1X", ""])
def test_durations_longer_than_100_years_negative_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_duration(text)


def test_a_duration_that_carries_an_instant_past_9998_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"out of range|outside the years"):
        add_duration(to_instant("9998-06-01T00:00:00Z"), "P100Y")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://user@host:abc/db", "not a database URL"),
        ("postgresql://user@host:70000/db", "port 70000"),
        ("mysql://user@host/db", "unsupported database URL"),
        ("", "not a database URL"),
        ("::::", "not a database URL"),
    ],
)
def test_malformed_or_unsupported_database_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SqlDatabase(url)
